"""The stream's fan-out of alerts: each subscriber gets what its token sees, and city-wide alerts
(milestones) reach every role, as GET /v1/alerts lists them (issue 16)."""
from __future__ import annotations

from services.aggregation.hub import Hub
from services.aggregation.visibility import View


def test_alerts_reach_the_subscribers_that_may_see_them_and_milestones_reach_all():
    hub = Hub()
    office, district, unit, other = (hub.subscribe(v) for v in (
        View("office", "office"), View("district", "pudong"), View("unit", "pudong"), View("unit", "samr")))
    milestone = {"id": "m", "unit_id": None}
    own = {"id": "p", "unit_id": "pudong"}
    hub.alerts_raised([milestone, own])
    assert [a["id"] for a in office.alerts] == ["m", "p"]
    assert [a["id"] for a in district.alerts] == ["m", "p"]
    assert [a["id"] for a in unit.alerts] == ["m", "p"]
    assert [a["id"] for a in other.alerts] == ["m"]
