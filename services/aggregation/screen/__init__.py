"""The big screen: a static page (GET /screen) and its vendored assets, fed by /v1/stream."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
router = APIRouter()


@router.get("/screen", include_in_schema=False)
async def screen() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


def mount(app) -> None:
    app.include_router(router)
    app.mount("/screen/static", StaticFiles(directory=STATIC), name="screen-static")
