"""The campaign's units and metrics lists come from files (QM_UNITS_FILE, QM_METRICS_FILE) like the
campaign file; a bad file stops the service at start-up with a clear message."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.aggregation.phrasing import phrase
from shared import refdata
from shared.settings import CommonSettings


@pytest.fixture
def lists_env(monkeypatch):
    """The environment for these tests; afterwards the packaged lists again, for every later test."""
    yield monkeypatch
    monkeypatch.undo()
    refdata.reload()


def test_lists_from_files(lists_env, tmp_path):
    monkeypatch = lists_env
    lines = refdata.resources.files("shared.data").joinpath("metrics.csv").read_text(encoding="utf-8").splitlines()
    metrics_file = tmp_path / "metrics-2023.csv"
    metrics_file.write_text("\n".join(lines + ["live_streams,直播场次,live streams,场,count,no,30+,30余场"]) + "\n", encoding="utf-8")
    units_file = tmp_path / "units-2023.csv"
    units_file.write_text(
        "unit_id,name_zh,name_en,kind,district_id,named_in_circular\n"
        "pudong,浦东新区,Pudong New Area,district,pudong,yes\n"
        "samr,市市场监管局,Market Regulation,bureau,,yes\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("QM_METRICS_FILE", str(metrics_file))
    monkeypatch.setenv("QM_UNITS_FILE", str(units_file))
    refdata.reload()
    assert list(refdata.units()) == ["pudong", "samr"] and list(refdata.districts()) == ["pudong"]
    assert list(refdata.metrics())[-1] == "live_streams"
    monkeypatch.delenv("QM_METRICS_FILE")
    refdata.reload()
    assert "live_streams" not in refdata.metrics()
    monkeypatch.setenv("QM_METRICS_FILE", str(metrics_file))
    refdata.reload()
    assert phrase("live_streams", 34) == "34场" and phrase("live_streams", 340) == "340场"
    settings = CommonSettings()
    assert settings.units_file == units_file and settings.metrics_file == metrics_file


@pytest.mark.parametrize(
    ("variable", "content", "message"),
    [
        ("QM_METRICS_FILE", "metric_id,label_zh\nx,y\n", "missing column(s) label_en"),
        ("QM_UNITS_FILE", "unit_id,name_zh,name_en,kind,district_id,named_in_circular\nx,X,X,planet,,no\n", "kind 'planet'"),
        ("QM_UNITS_FILE", None, "cannot read"),
    ],
)
def test_a_bad_list_stops_start_up(lists_env, tmp_path, variable, content, message):
    monkeypatch = lists_env
    path = tmp_path / "list.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv(variable, str(path))
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CommonSettings()


def test_the_packaged_lists_are_back():
    assert len(refdata.units()) == 56 and len(refdata.metrics()) == 28
