"""A plan proposed from the events a source sent: a start for a person to review.

Each observed event becomes a planned event (track, page and screen by name; identify
and group calls give the identify and group traits), each top-level property a schema
of the JSON types seen for it (integer and number seen together are number), required
when every one of the event's occurrences carried it. Nested objects and arrays are
typed but not described further; a reviewer adds what they must hold. Pure: no Django.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cdp.tracking_plans.engine.checks import json_type
from cdp.tracking_plans.engine.document import (
    ANY_NAME,
    EVENT_TYPES,
    FLAG,
    FORMAT,
    KINDS,
    SCHEMA_DIALECT,
)

# Names beyond this many of one type (page names that are URLs, say) are left out.
MAX_EVENTS_PER_TYPE = 200


@dataclass
class _Seen:
    count: int = 0
    keys: Counter[str] = field(default_factory=Counter)
    types: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, payload: Any) -> None:
        self.count += 1
        if not isinstance(payload, dict):
            return
        for key, value in payload.items():
            self.keys[key] += 1
            self.types[key].add(json_type(value))

    def schema(self) -> dict[str, Any]:
        properties = {}
        for key in sorted(self.keys):
            types = self.types[key]
            if {"integer", "number"} <= types:
                types = types - {"integer"}
            ordered = sorted(types)
            properties[key] = {
                "type": ordered[0] if len(ordered) == 1 else ordered,
                "description": f"seen in {self.keys[key]:,} of {self.count:,}",
            }
        schema: dict[str, Any] = {
            "$schema": SCHEMA_DIALECT,
            "type": "object",
            "properties": properties,
        }
        required = sorted(key for key, count in self.keys.items() if count == self.count)
        if required:
            schema["required"] = required
        return schema


@dataclass(frozen=True)
class Observation:
    """One stored event, as inference reads it."""

    type: str
    name: str
    properties: Any = None
    traits: Any = None


def infer_plan(
    observations: Iterable[Observation],
    *,
    name: str,
    sources: list[str],
    description: str = "",
) -> dict[str, Any]:
    """A canonical plan (engine.document) of what `observations` hold, every mode flag."""
    events: dict[tuple[str, str], _Seen] = defaultdict(_Seen)
    traits = {"identify": _Seen(), "group": _Seen()}
    for seen in observations:
        if seen.type in traits:
            traits[seen.type].add(seen.traits)
        elif seen.type in EVENT_TYPES:
            events[seen.type, seen.name or ANY_NAME].add(seen.properties)
    planned = []
    for kind in EVENT_TYPES:
        of_kind = sorted(
            ((key[1], value) for key, value in events.items() if key[0] == kind),
            key=lambda item: (-item[1].count, item[0]),
        )[:MAX_EVENTS_PER_TYPE]
        for event_name, event in sorted(of_kind, key=lambda item: item[0]):
            planned.append(
                {
                    "type": kind,
                    "name": event_name,
                    "description": f"seen {event.count:,} times",
                    "properties": event.schema(),
                }
            )
    return {
        "format": FORMAT,
        "name": name,
        "description": description,
        "sources": list(sources),
        "modes": dict.fromkeys(KINDS, FLAG),
        "context": None,
        "identify_traits": traits["identify"].schema() if traits["identify"].count else None,
        "group_traits": traits["group"].schema() if traits["group"].count else None,
        "events": planned,
    }
