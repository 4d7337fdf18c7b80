"""Return on spend that says what it divides, two models compared the way GA4's model
comparison does, and the credit of early, middle and late touches of conversion paths
(GA4's conversion paths report). Pure: NumPy only.

- **Paid ROAS** = the revenue a model credits to the paid channels / what those channels
  cost; a channel is paid when its recorded cost in the period is above zero.
- **Blended MER** (marketing efficiency ratio) = all revenue credited (every channel:
  in-store, direct and organic included) / all cost: how the whole business returns on its
  marketing spend. With the same cost below both, the MER is never below the paid ROAS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from attribution.engine.journeys import Journeys

EARLY, MIDDLE, LATE = "early", "middle", "late"
POSITIONS = (EARLY, MIDDLE, LATE)


def return_on_spend(revenue: Mapping[str, float], cost: Mapping[str, float]) -> dict[str, Any]:
    """Paid ROAS and blended MER from the revenue credited to each channel and each
    channel's cost; None where nothing was spent."""
    paid = sorted(channel for channel, spent in cost.items() if spent > 0)
    paid_revenue = sum(revenue.get(channel, 0.0) for channel in paid)
    paid_cost = sum(cost[channel] for channel in paid)
    all_revenue = sum(revenue.values())
    return {
        "paid_channels": paid,
        "paid_revenue": round(paid_revenue, 2),
        "paid_cost": round(paid_cost, 2),
        "paid_roas": round(paid_revenue / paid_cost, 4) if paid_cost else None,
        "revenue": round(all_revenue, 2),
        "cost": round(paid_cost, 2),  # unpaid channels cost nothing
        "mer": round(all_revenue / paid_cost, 4) if paid_cost else None,
        "unpaid_revenue": round(all_revenue - paid_revenue, 2),
    }


def percent_change(before: float | None, after: float | None) -> float | None:
    """(after - before) / before in percent, to two decimals; None when there is nothing
    to change from (before is 0 or unknown) or nothing to change to."""
    if before is None or after is None or before == 0:
        return None
    return round((after - before) / before * 100, 2)


COMPARED = ("conversions", "revenue", "roas")


def compare_models(
    first: Iterable[Mapping[str, Any]],
    second: Iterable[Mapping[str, Any]],
    *,
    keys: Sequence[str],
) -> list[dict[str, Any]]:
    """Per line (`keys`: channel, or channel and campaign), each model's conversions,
    revenue and ROAS (`first`, `second`: rows with those and `cost`) and the % change from
    the first model to the second. A line one model does not credit has 0 under it."""
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for side, rows in (("first", first), ("second", second)):
        for row in rows:
            key = tuple(row[k] for k in keys)
            entry = table.setdefault(key, {"key": key, "cost": float(row.get("cost") or 0.0)})
            entry[side] = row
    compared = []
    for entry in table.values():
        line: dict[str, Any] = dict(zip(keys, entry["key"], strict=True))
        line["cost"] = round(entry["cost"], 2)
        for name in COMPARED:
            a = _figure(entry.get("first"), name, entry["cost"])
            b = _figure(entry.get("second"), name, entry["cost"])
            line[f"{name}_first"] = a
            line[f"{name}_second"] = b
            line[f"{name}_change_percent"] = percent_change(a, b)
        compared.append(line)
    return sorted(
        compared,
        key=lambda r: (-max(r["revenue_first"], r["revenue_second"]), *(r[k] for k in keys)),
    )


def _figure(row: Mapping[str, Any] | None, name: str, cost: float) -> float | None:
    if name == "roas":
        revenue = float(row["revenue"]) if row else 0.0
        return round(revenue / cost, 4) if cost else None
    return float(row[name]) if row else 0.0


def position_counts(length: int) -> tuple[int, int, int]:
    """How many of a path's `length` touches are early, middle and late, as GA4 splits
    them: early the first 25% rounded to the nearest whole number (none for a one-touch
    path), late the last 25% rounded up (a one-touch path's only touch), middle the rest
    (none for paths under three touches)."""
    early = int(np.floor(length / 4 + 0.5)) if length > 1 else 0
    late = int(np.ceil(length / 4)) if length else 0
    return early, length - early - late, late


def touch_positions(journeys: Journeys) -> np.ndarray:
    """Each touch's position in its journey: 0 early, 1 middle, 2 late."""
    lengths = journeys.lengths
    late = np.ceil(lengths / 4).astype(np.int64)
    early = np.where(lengths > 1, np.floor(lengths / 4 + 0.5), 0).astype(np.int64)
    journey = journeys.journey_of_touch()
    rank = np.arange(len(journeys.touches)) - journeys.offsets[:-1][journey]
    from_end = lengths[journey] - rank  # 1 for the last touch
    return np.where(rank < early[journey], 0, np.where(from_end <= late[journey], 2, 1))


def position_credit(journeys: Journeys, shares: np.ndarray) -> list[dict[str, Any]]:
    """Per channel, the conversions and revenue a model's `shares` credit to its early,
    middle and late touches of converting journeys, and each position's share of the
    channel's credited conversions."""
    journey = journeys.journey_of_touch()
    weight = shares * journeys.converted[journey]
    position = touch_positions(journeys)
    size = len(journeys.channels) * 3
    groups = journeys.touches.astype(np.int64) * 3 + position
    conversions = np.bincount(groups, weights=weight, minlength=size).reshape(-1, 3)
    value = np.bincount(groups, weights=weight * journeys.value[journey], minlength=size)
    value = value.reshape(-1, 3)
    rows = []
    for c, channel in enumerate(journeys.channels):
        total = float(conversions[c].sum())
        if total <= 0 and float(value[c].sum()) <= 0:
            continue
        row: dict[str, Any] = {"channel": channel}
        for p, name in enumerate(POSITIONS):
            row[f"{name}_conversions"] = round(float(conversions[c, p]), 6)
            row[f"{name}_revenue"] = round(float(value[c, p]), 2)
            row[f"{name}_share"] = round(float(conversions[c, p]) / total, 4) if total else None
        rows.append(row)
    return sorted(rows, key=lambda r: -sum(r[f"{p}_revenue"] for p in POSITIONS))
