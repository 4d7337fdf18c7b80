"""How a run's totals reconcile with the stored conversions: every conversion event
stored is either reported, left out for consent, not resolved to a profile, or a repeat
the goal does not count — as orders and value, not only profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cdp.models import Touchpoint


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0


def reconcile_conversions(
    *,
    event: str,
    value_property: str,
    count_repeat: bool,
    allowed: set[int],
    until: datetime | None = None,
) -> dict[str, Any]:
    """The goal's stored conversions (events named `event`, up to `until`) split into
    what a run over the profiles analytics allows (`allowed`) reports and what it leaves
    out, each as conversions and value: `stored` = `reported` + `left_out_for_consent` +
    `not_resolved` (no profile yet) + `repeats_not_counted` (a goal counting only the
    first conversion of a profile)."""
    rows = Touchpoint.objects.filter(event=event)
    if until is not None:
        rows = rows.filter(timestamp__lte=until)
    read = "revenue" if value_property == "revenue" else f"properties__{value_property}"
    parts: dict[str, dict[str, Any]] = {
        name: {"conversions": 0, "value": 0.0}
        for name in ("reported", "left_out_for_consent", "not_resolved", "repeats_not_counted")
    }
    left_out_profiles: set[int] = set()
    seen: set[int] = set()
    for profile, value in (
        rows.order_by("profile_id", "timestamp", "pk")
        .values_list("profile_id", read)
        .iterator(chunk_size=20_000)
    ):
        if profile is None:
            part = "not_resolved"
        elif profile not in allowed:
            part = "left_out_for_consent"
            left_out_profiles.add(profile)
        elif not count_repeat and profile in seen:
            part = "repeats_not_counted"
        else:
            part = "reported"
            seen.add(profile)
        parts[part]["conversions"] += 1
        parts[part]["value"] += _number(value)
    stored = {
        "conversions": sum(p["conversions"] for p in parts.values()),
        "value": round(sum(p["value"] for p in parts.values()), 2),
    }
    for counted in parts.values():
        counted["value"] = round(counted["value"], 2)
    parts["left_out_for_consent"]["profiles"] = len(left_out_profiles)
    return {"stored": stored, **parts}
