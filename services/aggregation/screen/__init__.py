"""The big screen: a static page (GET /screen) and its vendored assets, fed by /v1/stream."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from shared.refdata import FOCUS_AREAS, metrics, units
from shared.settings import CommonSettings

STATIC = Path(__file__).parent / "static"
router = APIRouter()

# The page may talk to its own origin only: no CDN, no beacon, and injected markup could not run.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# The circular's headline figures, worded as the wall display shows them.
HEADLINE = [
    ("activities", "活动场次", "场"),
    ("enterprises", "参加企业", "家"),
    ("participants", "参与人次", "人次"),
    ("articles", "报道篇数", "篇"),
    ("materials", "宣传资料份数", "份"),
]


@router.get("/screen", include_in_schema=False)
async def screen() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/screen/refdata.json", include_in_schema=False)
async def refdata() -> JSONResponse:
    """Labels the stream does not carry: unit and district names, metrics, focus areas, the schedule."""
    return JSONResponse(_refdata(), headers={"Cache-Control": "no-cache"})


@lru_cache
def _refdata() -> dict:
    campaign = CommonSettings().campaign()
    return {
        "campaign": {
            "year": campaign.year,
            "title_zh": campaign.title_zh,
            "timezone": campaign.timezone,
            "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(),
            "periods": [
                {"period_id": p.period_id, "label_zh": p.label_zh, "starts_on": p.starts_on.isoformat(),
                 "ends_on": p.ends_on.isoformat(), "due_at": p.due_at.isoformat()}
                for p in campaign.periods
            ],
        },
        "units": [
            {"unit_id": u.unit_id, "name_zh": u.name_zh, "kind": u.kind, "district_id": u.district_id}
            for u in units().values()
        ],
        "metrics": {m.metric_id: {"label_zh": m.label_zh, "unit_zh": m.unit_zh, "value_type": m.value_type}
                    for m in metrics().values()},
        "headline": [{"metric_id": m, "label_zh": label, "unit_zh": unit} for m, label, unit in HEADLINE],
        "focus_areas": FOCUS_AREAS,
    }


def mount(app) -> None:
    app.include_router(router)
    app.mount("/screen/static", StaticFiles(directory=STATIC), name="screen-static")
