"""Segment Protocols' tracking-plan JSON, read into our plan format (engine.document).

Two shapes of export are read (docs/tracking-plans.md has the mapping with examples):

- the Config API's: `{"display_name", "rules": {"events": [{"name", "description",
  "rules": <schema>, "version"}], "global": <schema>, "identify": <schema>,
  "group": <schema>}}` (`identify_traits` / `group_traits` taken as the same as
  `identify` / `group`);
- the Public API's: `{"name", "description", "rules": [{"type": "TRACK" | "PAGE" |
  "SCREEN" | "IDENTIFY" | "GROUP" | "COMMON", "key", "version", "jsonSchema"}]}`,
  the highest version of each key kept.

Each Protocols schema describes the whole call: its `properties.properties` is our
event's properties schema, `properties.traits` an identify or group call's traits,
`properties.context` the context. The common (global) rule's context becomes the plan's
context; its properties are merged into every track event's (the event's own win, the
required lists joined). An empty schema (`{}`) plans nothing: null. Labels and versions
are not kept, and Protocols keeps blocking settings on the source, not in the plan, so
every mode starts as flag. Pure: no Django.
"""

from __future__ import annotations

from typing import Any

from cdp.tracking_plans.engine.document import FORMAT, PlanError

_PUBLIC_TYPES = {"TRACK": "track", "PAGE": "page", "SCREEN": "screen"}


def is_protocols_export(document: Any) -> bool:
    return isinstance(document, dict) and "rules" in document and "format" not in document


def from_protocols(document: dict[str, Any]) -> dict[str, Any]:
    """Our plan document (not yet checked: pass it to read_plan) from a Protocols export."""
    rules = document["rules"]
    # The Config API's `name` is a resource path (workspaces/…/tracking-plans/rs_…);
    # its display_name is the plan's name.
    name = str(document.get("display_name") or document.get("name") or "Imported from Protocols")
    if isinstance(rules, list):
        common, calls, events = _public_rules(rules)
    elif isinstance(rules, dict):
        common, calls, events = _config_rules(rules)
    else:
        raise PlanError("must be a list (Public API) or an object (Config API)", field="rules")
    common_properties = _part(common, "properties")
    return {
        "format": FORMAT,
        "name": name.rsplit("/", 1)[-1],
        "description": document.get("description") or "",
        "sources": [],
        "context": _part(common, "context"),
        "identify_traits": _part(calls.get("identify"), "traits"),
        "group_traits": _part(calls.get("group"), "traits"),
        "events": [
            {
                "type": kind,
                "name": event_name,
                "description": description,
                "properties": _merged(common_properties, _part(schema, "properties"))
                if kind == "track"
                else _part(schema, "properties"),
                **({"context": _part(schema, "context")} if _part(schema, "context") else {}),
            }
            for kind, event_name, description, schema in events
        ],
    }


Rules = tuple[Any, dict[str, Any], list[tuple[str, str, str, Any]]]


def _public_rules(rules: list[Any]) -> Rules:
    latest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or rule.get("type") not in (
            *_PUBLIC_TYPES,
            "IDENTIFY",
            "GROUP",
            "COMMON",
        ):
            raise PlanError(
                "a rule is an object with type TRACK, PAGE, SCREEN, IDENTIFY, GROUP or COMMON",
                field=f"rules[{index}].type",
            )
        rule_key = (rule["type"], rule.get("key") or "")
        version = rule.get("version") or 0
        if rule_key not in latest or version >= latest[rule_key][0]:
            latest[rule_key] = (version, rule)
    common: Any = None
    calls: dict[str, Any] = {}
    events: list[tuple[str, str, str, Any]] = []
    for (kind, key), (_, rule) in latest.items():
        schema = rule.get("jsonSchema") or rule.get("json_schema") or {}
        if kind == "COMMON":
            common = schema
        elif kind in ("IDENTIFY", "GROUP"):
            calls[kind.lower()] = schema
        else:
            events.append((_PUBLIC_TYPES[kind], key, schema.get("description") or "", schema))
    return common, calls, events


def _config_rules(rules: dict[str, Any]) -> Rules:
    events = []
    for index, event in enumerate(rules.get("events") or []):
        if not isinstance(event, dict) or not event.get("name"):
            raise PlanError("an event needs a name", field=f"rules.events[{index}].name")
        events.append(
            ("track", event["name"], event.get("description") or "", event.get("rules") or {})
        )
    calls = {
        "identify": rules.get("identify") or rules.get("identify_traits"),
        "group": rules.get("group") or rules.get("group_traits"),
    }
    return rules.get("global"), calls, events


def _part(schema: Any, name: str) -> dict[str, Any] | None:
    """The schema of one part of a call (properties, traits, context); None if empty."""
    if not isinstance(schema, dict):
        return None
    part = (schema.get("properties") or {}).get(name)
    if not isinstance(part, dict) or not part:
        return None
    part = dict(part)
    part.setdefault("type", "object")
    return part


def _merged(common: dict[str, Any] | None, own: dict[str, Any] | None) -> dict[str, Any] | None:
    if common is None or not common.get("properties"):
        return own
    if own is None:
        return common
    merged = dict(own)
    merged["properties"] = {**common.get("properties", {}), **own.get("properties", {})}
    required = list(own.get("required") or [])
    required += [name for name in common.get("required") or [] if name not in required]
    if required:
        merged["required"] = required
    return merged
