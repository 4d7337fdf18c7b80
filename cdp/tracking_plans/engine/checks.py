"""Checking one event against a tracking plan: which violations, and what to do with it.

`compile_plan` turns a canonical plan (engine.document) into validators once; ingestion
keeps the compiled plan per plan digest and asks `CompiledPlan.check` for every event.

What is a violation, by kind:

- unplanned_event: a track event whose name the plan does not list (nor `"*"`); a page or
  screen likewise, when the plan lists any event of that type (a plan that says nothing
  of pages leaves them alone). Identify and group calls are never unplanned; alias
  calls carry nothing to check.
- unplanned_property: a key of properties (traits, context) that the schema does not
  name in `properties` or match by `patternProperties`, unless the schema says
  `"additionalProperties": true` or gives it a schema; deeper down, what a nested
  `"additionalProperties": false` refuses.
- missing_required: a `required` key (or one a `dependencies` entry needs) is absent.
- wrong_type: a `type` the value is not.
- out_of_range: any other keyword the value breaks (enum, const, minimum, maximum,
  pattern, format, minLength, maxItems, ...).

Speed: fastjsonschema runs each schema as generated Python, about 17 times faster than
jsonschema's `is_valid` on the same events (benchmarks/tracking_plans.py prints both;
docs/performance.md). It only says whether an event is valid (and its first error), so
the events it refuses, the rare ones, are read again by jsonschema's `iter_errors` to
classify every error with its path. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from cdp.tracking_plans.engine.document import (
    ANY_NAME,
    BLOCK,
    FLAG,
    MISSING_REQUIRED,
    OUT_OF_RANGE,
    STRIP,
    UNPLANNED_EVENT,
    UNPLANNED_PROPERTY,
    WRONG_TYPE,
)

# An event that breaks its schema everywhere is reported by its first violations only.
MAX_VIOLATIONS = 20
BLOCKED, STRIPPED, FLAGGED = "blocked", "stripped", "flagged"
_KIND_OF_KEYWORD = {
    "required": MISSING_REQUIRED,
    "dependencies": MISSING_REQUIRED,
    "type": WRONG_TYPE,
    "additionalProperties": UNPLANNED_PROPERTY,
}


@dataclass(frozen=True)
class Violation:
    kind: str
    # Where in the event: ("properties", "revenue"), ("properties", "products", 0, "price"),
    # ("event",) for an unplanned event.
    location: tuple[str | int, ...]
    message: str
    value: Any = None

    @property
    def field(self) -> str:
        head, *rest = self.location
        return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


@dataclass
class Verdict:
    """The violations an event's plan counts (allow-mode ones left out), and the action
    taken on it: blocked (not stored), stripped (stored without its unplanned
    properties) or flagged (stored as sent). `action` is None for a clean event."""

    violations: list[Violation] = field(default_factory=list)
    action: str | None = None
    # The first violation whose mode blocks, named in the rejection.
    blocking: Violation | None = None
    stripped: list[Violation] = field(default_factory=list)


CLEAN = Verdict()


class CompiledSchema:
    """One payload's schema, ready: the keys it plans at the top, the fast validator,
    and jsonschema for classifying what the fast one refuses."""

    def __init__(self, schema: dict[str, Any]):
        additional = schema.get("additionalProperties")
        # Keys at the top are unplanned by our rule (its own mode), not by the schema's.
        self.open = additional is True or isinstance(additional, dict)
        self.planned = frozenset(schema.get("properties") or ())
        self.patterns = [re.compile(p) for p in schema.get("patternProperties") or ()]
        checked = {key: value for key, value in schema.items() if key != "additionalProperties"}
        if isinstance(additional, dict):
            checked["additionalProperties"] = additional
        self.fast: Callable[[Any], Any] = fastjsonschema.compile(checked)
        self.slow = Draft7Validator(checked, format_checker=Draft7Validator.FORMAT_CHECKER)

    def check(self, part: str, value: Any) -> list[Violation]:
        if not isinstance(value, dict):
            value = {}
        found = []
        if not self.open:
            for key in value:
                if key not in self.planned and not any(p.search(key) for p in self.patterns):
                    found.append(
                        Violation(
                            UNPLANNED_PROPERTY, (part, key), "not in the tracking plan", value[key]
                        )
                    )
        try:
            self.fast(value)
        except fastjsonschema.JsonSchemaValueException as error:
            found.extend(self._classify(part, value, error))
        return found

    def _classify(self, part: str, value: dict[str, Any], fast_error: Any) -> list[Violation]:
        found: list[Violation] = []
        for error in self.slow.iter_errors(value):
            found.extend(_violations_of(part, error))
            if len(found) >= MAX_VIOLATIONS:
                break
        if found:
            return found
        # The two implementations disagree (a format one of them does not check): the
        # fast one's refusal stands.
        path = tuple(fast_error.path[1:]) if fast_error.path else ()
        kind = _KIND_OF_KEYWORD.get(fast_error.rule, OUT_OF_RANGE)
        return [Violation(kind, (part, *path), fast_error.message, fast_error.value)]


def _violations_of(part: str, error: ValidationError) -> list[Violation]:
    at = (part, *error.absolute_path)
    keyword = str(error.validator)
    # What the keyword asked for, and the schema holding it: JSON, as the plan wrote it.
    asked: Any = error.validator_value
    schema: Any = error.schema
    if keyword == "required":
        return [
            Violation(MISSING_REQUIRED, (*at, name), "required by the tracking plan")
            for name in asked
            if isinstance(error.instance, dict) and name not in error.instance
        ]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        named = schema.get("properties") or {}
        patterns = [re.compile(p) for p in schema.get("patternProperties") or ()]
        return [
            Violation(UNPLANNED_PROPERTY, (*at, key), "not in the tracking plan", item)
            for key, item in error.instance.items()
            if key not in named and not any(p.search(key) for p in patterns)
        ]
    if keyword == "type":
        return [
            Violation(
                WRONG_TYPE,
                at,
                f"must be {_types(asked)}, got {_json_type(error.instance)}",
                error.instance,
            )
        ]
    if keyword in ("anyOf", "oneOf") and error.context:
        if all(sub.validator == "type" for sub in error.context):
            wanted = [t for sub in error.context for t in _as_list(sub.validator_value)]
            return [
                Violation(
                    WRONG_TYPE,
                    at,
                    f"must be {_types(wanted)}, got {_json_type(error.instance)}",
                    error.instance,
                )
            ]
    kind = _KIND_OF_KEYWORD.get(keyword, OUT_OF_RANGE)
    return [Violation(kind, at, error.message, error.instance)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _types(value: Any) -> str:
    return " or ".join(_as_list(value))


def _json_type(value: Any) -> str:
    return json_type(value)


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, as JSON Schema names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class PlannedEvent:
    properties: CompiledSchema | None
    context: CompiledSchema | None


class CompiledPlan:
    def __init__(self, plan: dict[str, Any]):
        self.modes: dict[str, str] = dict(plan["modes"])
        self.events: dict[tuple[str, str], PlannedEvent] = {}
        self.types_planned = {"track"}
        for event in plan["events"]:
            self.types_planned.add(event["type"])
            self.events[event["type"], event["name"]] = PlannedEvent(
                _compiled(event["properties"]), _compiled(event.get("context"))
            )
        self.context = _compiled(plan["context"])
        self.traits = {
            "identify": _compiled(plan["identify_traits"]),
            "group": _compiled(plan["group_traits"]),
        }

    def check(
        self,
        kind: str,
        name: str,
        *,
        properties: dict[str, Any] | None,
        traits: dict[str, Any] | None,
        context: dict[str, Any] | None,
    ) -> Verdict:
        """The verdict on one event (its type, name and the payloads the plan reads)."""
        found: list[Violation] = []
        context_schema = self.context
        if kind in self.traits:
            schema = self.traits[kind]
            if schema is not None:
                found += schema.check("traits", traits)
        elif kind in self.types_planned:
            planned = self.events.get((kind, name)) or self.events.get((kind, ANY_NAME))
            if planned is None:
                found.append(
                    Violation(
                        UNPLANNED_EVENT,
                        ("event",),
                        f"the {kind} event {name!r} is not in the tracking plan",
                        name,
                    )
                )
            else:
                if planned.properties is not None:
                    found += planned.properties.check("properties", properties)
                context_schema = planned.context or context_schema
        if context_schema is not None and kind != "alias":
            found += context_schema.check("context", context)
        if not found:
            return CLEAN
        return self._verdict(found[:MAX_VIOLATIONS])

    def _verdict(self, found: Iterable[Violation]) -> Verdict:
        counted = [v for v in found if self.modes[v.kind] in (FLAG, STRIP, BLOCK)]
        if not counted:
            return CLEAN
        blocking = next((v for v in counted if self.modes[v.kind] == BLOCK), None)
        if blocking is not None:
            return Verdict(counted, BLOCKED, blocking=blocking)
        stripped = [v for v in counted if self.modes[v.kind] == STRIP]
        return Verdict(counted, STRIPPED if stripped else FLAGGED, stripped=stripped)


def _compiled(schema: dict[str, Any] | None) -> CompiledSchema | None:
    return CompiledSchema(schema) if schema is not None else None


def compile_plan(plan: dict[str, Any]) -> CompiledPlan:
    """A canonical plan (engine.document.read_plan) ready to check events."""
    return CompiledPlan(plan)


def strip(payloads: dict[str, Any], stripped: Iterable[Violation]) -> dict[str, Any]:
    """The payloads (properties, traits, context by name) without the stripped keys;
    copies only what changes, so the event as sent is never altered in place."""
    result = dict(payloads)
    for violation in stripped:
        part, path = str(violation.location[0]), list(violation.location[1:])
        if not path or not isinstance(result.get(part), dict):
            continue
        result[part] = _without(result[part], path)
    return result


def _without(container: Any, path: list[str | int]) -> Any:
    head, *rest = path
    if isinstance(container, dict) and head in container:
        copy = dict(container)
        if rest:
            copy[head] = _without(container[head], rest)
        else:
            del copy[head]
        return copy
    if isinstance(container, list) and isinstance(head, int) and 0 <= head < len(container):
        items = list(container)
        if rest:
            items[head] = _without(container[head], rest)
        return items
    return container
