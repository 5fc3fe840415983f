"""Who may read which units' data: the office all, a district its own units (and itself), a unit itself."""
from __future__ import annotations

from shared.auth import Principal
from shared.refdata import units


def visible_units(who: Principal) -> list[str] | None:
    """None means every unit."""
    if who.role == "office":
        return None
    if who.role == "district":
        return sorted({who.unit_id} | {u.unit_id for u in units().values() if u.district_id == who.unit_id})
    if who.role == "unit":
        return [who.unit_id]
    return []  # any other role (e.g. the screen's read-only viewer) reads no unit's data


def may_read(who: Principal, unit_id: str) -> bool:
    visible = visible_units(who)
    return visible is None or unit_id in visible
