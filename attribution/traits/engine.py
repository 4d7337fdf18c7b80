"""Computed traits over one profile's events. Pure: no Django.

Definitions (docs/activation.md quotes them), over the profile's events that match the
trait's event name and property values inside its window, in time order:
- count: how many there are (0 when none);
- sum, average, min, max: of the property's numeric values (numbers, or text that reads
  as a number; others are skipped); none when no event has one;
- most_frequent: the value seen most often (a tie goes to the one seen first);
- first, last: the value of the earliest / latest event that has one;
- unique: the distinct values in order of first appearance; unique_count: how many.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

KINDS = (
    "count",
    "sum",
    "average",
    "min",
    "max",
    "most_frequent",
    "first",
    "last",
    "unique",
    "unique_count",
)
UNIQUE_KEPT = 100  # at most this many unique values are kept (the count is exact)


@dataclass(frozen=True)
class Definition:
    kind: str
    event: str = ""
    where: Mapping[str, Any] = field(default_factory=dict)
    property: str = ""
    window_days: int | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def matches(definition: Definition, event: str, properties: Mapping[str, Any]) -> bool:
    if definition.event and event != definition.event:
        return False
    return all(properties.get(k) == v for k, v in definition.where.items())


def since(definition: Definition, now: datetime) -> datetime | None:
    return now - timedelta(days=definition.window_days) if definition.window_days else None


def compute(
    definition: Definition, events: Iterable[tuple[datetime, str, Mapping[str, Any]]], now: datetime
) -> Any:
    """The trait's value over one profile's (timestamp, event name, properties), in time
    order; None when the profile has nothing to compute it from (count: 0)."""
    start = since(definition, now)
    values = []
    count = 0
    for at, name, properties in events:
        if (start is not None and at < start) or at > now:
            continue
        if not matches(definition, name, properties or {}):
            continue
        count += 1
        if definition.kind != "count":
            value = (properties or {}).get(definition.property)
            if value is not None and value != "" and not isinstance(value, dict | list):
                values.append(value)
    return _reduce(definition.kind, count, values)


def _reduce(kind: str, count: int, values: list[Any]) -> Any:
    if kind == "count":
        return count
    if kind in ("sum", "average", "min", "max"):
        numbers = [n for n in (_number(v) for v in values) if n is not None]
        if not numbers:
            return None
        if kind == "sum":
            return round(sum(numbers), 6)
        if kind == "average":
            return round(sum(numbers) / len(numbers), 6)
        return min(numbers) if kind == "min" else max(numbers)
    if not values:
        return None
    if kind == "first":
        return values[0]
    if kind == "last":
        return values[-1]
    distinct = list(dict.fromkeys(values))
    if kind == "unique":
        return distinct[:UNIQUE_KEPT]
    if kind == "unique_count":
        return len(distinct)
    # most_frequent: the highest count, the earliest seen among equals
    tally: dict[Any, int] = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    return max(distinct, key=lambda v: (tally[v], -distinct.index(v)))


def in_words(definition: Definition, name: str = "") -> str:
    """The definition as a sentence, like segment rules in words."""
    what = f'"{definition.event}" events' if definition.event else "events"
    if definition.where:
        what += " with " + " and ".join(f"{k} = {v}" for k, v in definition.where.items())
    window = (
        f" in the last {definition.window_days} days" if definition.window_days else " (all time)"
    )
    prop = definition.property
    text = {
        "count": f"the number of {what}",
        "sum": f"the sum of {prop} over {what}",
        "average": f"the average {prop} over {what}",
        "min": f"the smallest {prop} over {what}",
        "max": f"the largest {prop} over {what}",
        "most_frequent": f"the most frequent {prop} of {what}",
        "first": f"the {prop} of the first of {what}",
        "last": f"the {prop} of the last of {what}",
        "unique": f"the distinct values of {prop} over {what}",
        "unique_count": f"how many distinct values of {prop} {what} had",
    }[definition.kind]
    return (f"{name}: " if name else "") + text + window
