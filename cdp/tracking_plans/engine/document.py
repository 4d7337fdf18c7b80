"""The tracking-plan file: what a plan says, read from JSON and written back unchanged.

A plan lives in version control as one JSON document (docs/tracking-plans.md)::

    {
      "format": "omnitrail-tracking-plan/1",
      "name": "Web shop",
      "description": "",
      "sources": ["web", "app"],
      "modes": {"unplanned_event": "flag", "unplanned_property": "strip",
                "missing_required": "block", "wrong_type": "block", "out_of_range": "flag"},
      "context": null,                                  # JSON Schema of every event's context
      "identify_traits": {"type": "object", ...},       # JSON Schema of identify traits
      "group_traits": null,                             # JSON Schema of group traits
      "events": [
        {"type": "track", "name": "Order Completed", "description": "",
         "properties": {"type": "object", "properties": {...}, "required": [...]}},
        {"type": "page", "name": "*", "description": "", "properties": null}
      ]
    }

`read_plan` checks a document and returns it in canonical form (every key present, in
this order, modes filled in from `"mode"` or the defaults); `read_plan(read_plan(d))` is
`read_plan(d)`, so an exported plan imports to the same plan and exports to the same
file. Every schema is JSON Schema draft-07 (as Segment Protocols writes them) and is
checked here, so a bad one is refused with the path to it (`events[2].properties.type`),
never met first by an event. Pure: no Django.
"""

from __future__ import annotations

from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from cdp.errors import InvalidField

FORMAT = "omnitrail-tracking-plan/1"

UNPLANNED_EVENT = "unplanned_event"
UNPLANNED_PROPERTY = "unplanned_property"
MISSING_REQUIRED = "missing_required"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
KINDS = (UNPLANNED_EVENT, UNPLANNED_PROPERTY, MISSING_REQUIRED, WRONG_TYPE, OUT_OF_RANGE)
KIND_WORDS = {
    UNPLANNED_EVENT: "unplanned event",
    UNPLANNED_PROPERTY: "unplanned property",
    MISSING_REQUIRED: "missing required property",
    WRONG_TYPE: "wrong type",
    OUT_OF_RANGE: "value out of range",
}

ALLOW, FLAG, STRIP, BLOCK = "allow", "flag", "strip", "block"
# allow: store, count nothing; flag: store and count; block: reject the event (kept
# among the rejected events with the reason). Unplanned properties may also be
# stripped: the event is stored without them, and the answer says which were left out.
MODES = (ALLOW, FLAG, BLOCK)
MODES_BY_KIND = {kind: MODES for kind in KINDS} | {UNPLANNED_PROPERTY: (ALLOW, FLAG, STRIP, BLOCK)}
DEFAULT_MODE = FLAG

# Events planned by name; identify and group calls are checked by the plan's traits.
EVENT_TYPES = ("track", "page", "screen")
# A plan event named "*" takes every event of its type that no other entry names.
ANY_NAME = "*"
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
PLAN_KEYS = (
    "format",
    "name",
    "description",
    "sources",
    "modes",
    "context",
    "identify_traits",
    "group_traits",
    "events",
)
EVENT_KEYS = ("type", "name", "description", "properties", "context")


class PlanError(InvalidField):
    """A plan document that cannot be used; `field` is the path inside it."""

    code = "invalid_tracking_plan"


def read_plan(document: Any) -> dict[str, Any]:
    """The plan in canonical form, or PlanError naming the first thing wrong."""
    if not isinstance(document, dict):
        raise PlanError("a tracking plan is a JSON object", field="plan")
    unknown = sorted(set(document) - set(PLAN_KEYS) - {"mode"})
    if unknown:
        raise PlanError(
            f"not a key of a tracking plan (one of {', '.join(PLAN_KEYS)})", field=unknown[0]
        )
    if document.get("format", FORMAT) != FORMAT:
        raise PlanError(f"must be {FORMAT!r}", field="format")
    return {
        "format": FORMAT,
        "name": _text(document.get("name"), "name", required=True, limit=100),
        "description": _text(document.get("description"), "description"),
        "sources": _sources(document.get("sources")),
        "modes": _modes(document.get("mode"), document.get("modes")),
        "context": read_schema(document.get("context"), "context"),
        "identify_traits": read_schema(document.get("identify_traits"), "identify_traits"),
        "group_traits": read_schema(document.get("group_traits"), "group_traits"),
        "events": _events(document.get("events")),
    }


def _text(value: Any, field: str, *, required: bool = False, limit: int | None = None) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PlanError("must be text", field=field)
    text: str = value.strip()
    if required and not text:
        raise PlanError("must not be empty", field=field)
    if limit and len(text) > limit:
        raise PlanError(f"at most {limit} characters", field=field)
    return text


def _sources(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanError("must be a list of source names", field="sources")
    names: list[str] = []
    for index, name in enumerate(value):
        name = _text(name, f"sources[{index}]", required=True, limit=100)
        if name in names:
            raise PlanError(f"{name!r} is listed twice", field=f"sources[{index}]")
        names.append(name)
    return names


def _modes(default: Any, modes: Any) -> dict[str, str]:
    if default is None:
        default = DEFAULT_MODE
    if default not in MODES:
        raise PlanError(f"must be one of {', '.join(MODES)}", field="mode")
    if modes is None:
        modes = {}
    if not isinstance(modes, dict):
        raise PlanError("must be an object of a mode per kind of violation", field="modes")
    for kind, mode in modes.items():
        if kind not in KINDS:
            raise PlanError(
                f"not a kind of violation (one of {', '.join(KINDS)})", field=f"modes.{kind}"
            )
        if mode not in MODES_BY_KIND[kind]:
            raise PlanError(
                f"must be one of {', '.join(MODES_BY_KIND[kind])}", field=f"modes.{kind}"
            )
    return {kind: modes.get(kind, default) for kind in KINDS}


def _events(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PlanError("must be a list of planned events", field="events")
    events: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, event in enumerate(value):
        at = f"events[{index}]"
        if not isinstance(event, dict):
            raise PlanError("a planned event is a JSON object", field=at)
        unknown = sorted(set(event) - set(EVENT_KEYS))
        if unknown:
            raise PlanError(
                f"not a key of a planned event (one of {', '.join(EVENT_KEYS)})",
                field=f"{at}.{unknown[0]}",
            )
        kind = event.get("type", "track")
        if kind not in EVENT_TYPES:
            raise PlanError(
                f"must be one of {', '.join(EVENT_TYPES)} (identify and group calls are "
                "planned by identify_traits and group_traits)",
                field=f"{at}.type",
            )
        name = _text(event.get("name"), f"{at}.name", required=True, limit=255)
        if (kind, name) in seen:
            raise PlanError(
                f"the {kind} event {name!r} is already planned at events[{seen[kind, name]}]",
                field=f"{at}.name",
            )
        seen[kind, name] = index
        planned = {
            "type": kind,
            "name": name,
            "description": _text(event.get("description"), f"{at}.description"),
            "properties": read_schema(event.get("properties"), f"{at}.properties"),
        }
        if event.get("context") is not None:
            planned["context"] = read_schema(event["context"], f"{at}.context")
        events.append(planned)
    return events


def read_schema(schema: Any, field: str) -> dict[str, Any] | None:
    """A JSON Schema (draft-07) of an object, checked; None where nothing is planned."""
    if schema is None:
        return None
    if not isinstance(schema, dict):
        raise PlanError("must be a JSON Schema (an object) or null", field=field)
    dialect = schema.get("$schema", SCHEMA_DIALECT)
    if dialect.rstrip("#") != SCHEMA_DIALECT.rstrip("#"):
        raise PlanError(
            f"only JSON Schema draft-07 ({SCHEMA_DIALECT}) is read", field=f"{field}.$schema"
        )
    kind = schema.get("type", "object")
    if kind != "object":
        raise PlanError("the schema of a payload must be of type object", field=f"{field}.type")
    try:
        Draft7Validator.check_schema(schema)
    except SchemaError as error:
        raise PlanError(error.message, field=field + _path(error.path)) from None
    try:
        fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as error:
        raise PlanError(f"cannot be compiled: {error}", field=field) from None
    return schema


def _path(parts: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def plan_summary(plan: dict[str, Any]) -> dict[str, int]:
    """How many events of each type a plan lists."""
    counts = dict.fromkeys(EVENT_TYPES, 0)
    for event in plan["events"]:
        counts[event["type"]] += 1
    return counts
