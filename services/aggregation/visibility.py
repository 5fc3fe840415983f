"""Who sees what: office tokens the whole city, district tokens the reports that took place in
their district, unit tokens the city-wide totals plus their own reports, returns and alerts; a
wall screen's viewer token reads what the office's screen shows, and may do nothing else."""
from __future__ import annotations

from dataclasses import dataclass

from services.aggregation.totals import CITY, district_scope, unit_scope
from shared.refdata import units


@dataclass(frozen=True)
class View:
    """What one reader may see: `scope` of its breakdowns, `headline_scope` of its `totals` map."""

    role: str
    unit_id: str

    @property
    def city_wide(self) -> bool:
        # The wall screen's viewer token reads what the office reads; shared/web.py stops its writes.
        return self.role in ("office", "viewer")

    @property
    def scope(self) -> str:
        if self.city_wide:
            return CITY
        if self.role == "district":
            return district_scope(self.unit_id)
        return unit_scope(self.unit_id)

    @property
    def headline_scope(self) -> str:
        # City-wide totals are public (the circular prints them); a district sees only its own.
        return district_scope(self.unit_id) if self.role == "district" else CITY

    def sees_unit(self, unit_id: str | None) -> bool:
        """Returns and alerts of a unit (None: a city-wide alert such as a milestone)."""
        if self.city_wide:
            return True
        if unit_id is None:  # city-wide, for every reader, as GET /v1/alerts shows it
            return True
        if self.role == "district":
            unit = units().get(unit_id)
            return unit is not None and unit.district_id == self.unit_id
        return unit_id == self.unit_id

    def sees_activity(self, unit_id: str, district_id: str | None) -> bool:
        if self.city_wide:
            return True
        if self.role == "district":
            return district_id == self.unit_id
        return unit_id == self.unit_id
