"""What the segment editor offers to pick from, read from the data: the events seen and
the properties each carries, the channels of the channel rules, the profile facts with
their labels and units, the trait keys in use, the segments and the consent purposes by
name. And the check of a definition's names against them, so that a typo ("Order
Complete") is a message beside the rule instead of a segment that silently selects no one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from django.conf import settings
from django.db.models import Count

from attribution.segments import rules as segment_rules
from attribution.segments.models import ProfileChannel, Segment
from cdp.models import Profile, Touchpoint
from consent.models import Purpose

# Label and unit of every fact a rule can compare (rules.FACTS holds their types).
# "money" is shown as the currency of OMNITRAIL_CURRENCY.
FACT_LABELS: dict[str, tuple[str, str]] = {
    "first_touch_channel": ("First-touch channel", ""),
    "last_touch_channel": ("Last-touch channel", ""),
    "last_touch_campaign": ("Last-touch campaign", ""),
    "best_contact_channel": ("Best channel to contact", ""),
    "persona": ("Persona", ""),
    "channel_count": ("Number of channels seen on", "channels"),
    "total_revenue": ("Revenue to date", "money"),
    "order_count": ("Number of orders", "orders"),
    "clv": ("Customer lifetime value", "money"),
    "rfm_score": ("RFM score", "3 to 15"),
    "recency_score": ("Recency score", "1 to 5"),
    "frequency_score": ("Frequency score", "1 to 5"),
    "monetary_score": ("Monetary score", "1 to 5"),
    "days_since_last_order": ("Days since the last order", "days"),
}
# Events the editor offers however many touchpoints there are: read from the latest ones.
EVENT_SAMPLE = 200
TRAIT_SAMPLE = 500
MAX_EVENTS = 300
MAX_VALUES = 12


def channel_names() -> list[str]:
    """The channels the channel rules classify into (the GA4 defaults until staff change
    them), then any other channel a profile was seen on, in rule order."""
    from attribution.engine.channels import DEFAULT_RULES, UNASSIGNED
    from attribution.models import ChannelRule

    stored = list(
        ChannelRule.objects.filter(active=True)
        .order_by("position")
        .values_list("channel", flat=True)
    )
    names = stored or [rule["channel"] for rule in DEFAULT_RULES]
    seen = ProfileChannel.objects.values_list("channel", flat=True).distinct()
    return list(dict.fromkeys([*names, *sorted(seen), UNASSIGNED]))


def events_seen() -> list[dict[str, Any]]:
    """Track event names with how many touchpoints carry them, the most used first."""
    counted = (
        Touchpoint.objects.exclude(event="")
        .values("event")
        .annotate(times=Count("*"))
        .order_by("-times", "event")[:MAX_EVENTS]
    )
    return [{"name": row["event"], "times": row["times"]} for row in counted]


def event_properties(event: str) -> list[dict[str, Any]]:
    """The properties the latest touchpoints of `event` carry, with values seen (typed
    as in the data, so the editor keeps "0100" a string and 2 a number)."""
    values: dict[str, Counter] = {}
    latest = (
        Touchpoint.objects.filter(event=event)
        .order_by("-timestamp")
        .values_list("properties", flat=True)[:EVENT_SAMPLE]
    )
    for properties in latest:
        if not isinstance(properties, dict):
            continue
        for key, value in properties.items():
            if isinstance(value, (dict, list)) or value is None:
                continue
            # Keyed by type too: True and 1 are one key to a Counter, not to a rule.
            values.setdefault(key, Counter())[_json_key(value)] += 1
    return [
        {"key": key, "values": [_json_value(v) for v, _ in seen.most_common(MAX_VALUES)]}
        for key, seen in sorted(values.items())
    ]


def _json_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


def _json_value(key: tuple[str, Any]) -> Any:
    return key[1]


def trait_keys() -> list[str]:
    """Trait keys of the latest profiles."""
    keys: Counter = Counter()
    latest = (
        Profile.objects.filter(merged_into__isnull=True)
        .order_by("-pk")
        .values_list("traits", flat=True)[:TRAIT_SAMPLE]
    )
    for traits in latest:
        if isinstance(traits, dict):
            keys.update(k for k, v in traits.items() if not isinstance(v, (dict, list)))
    return sorted(keys)


def facts() -> list[dict[str, str]]:
    currency = settings.OMNITRAIL_CURRENCY
    return [
        {
            "key": key,
            "label": FACT_LABELS[key][0],
            "unit": currency if FACT_LABELS[key][1] == "money" else FACT_LABELS[key][1],
            "type": kind,
        }
        for key, kind in segment_rules.FACTS.items()
    ]


# Computed trait kinds whose value is a number (the others hold text: a value seen).
NUMBER_TRAITS = {"count", "sum", "average", "min", "max", "unique_count", "predicted"}


def computed_traits() -> list[dict[str, str]]:
    """The active computed traits a rule can compare (`{"computed": key, ...}`), each with
    its label, the type of its value and its unit."""
    from attribution.traits.models import ComputedTrait

    rows = ComputedTrait.objects.filter(active=True).order_by("name")
    return [
        {
            "key": key,
            "label": f"{name} ({key})",
            "type": "number" if kind in NUMBER_TRAITS else "text",
            "unit": "likelihood, 0 to 1" if kind == "predicted" else "",
        }
        for key, name, kind in rows.values_list("key", "name", "kind")
    ]


def rule_vocabulary(*, with_properties: bool = True) -> dict[str, Any]:
    """Everything the editor's pickers offer, as plain data for the page."""
    events = events_seen()
    return {
        "events": events,
        "properties": (
            {event["name"]: event_properties(event["name"]) for event in events[:40]}
            if with_properties
            else {}
        ),
        "channels": channel_names(),
        "facts": facts(),
        "computed": computed_traits(),
        "traits": trait_keys(),
        "segments": [
            {"id": pk, "name": name}
            for pk, name in Segment.objects.order_by("name").values_list("pk", "name")
        ],
        "purposes": [
            {"key": key, "name": name}
            for key, name in Purpose.objects.order_by("name").values_list("key", "name")
        ],
        "ops": segment_rules.OP_WORDS,
        "text_ops": segment_rules.TEXT_OPS,
        "number_ops": segment_rules.NUMBER_OPS,
        "templates": {
            key: {"name": t["name"], "definition": t["definition"]}
            for key, t in segment_rules.TEMPLATES.items()
        },
    }


def resolve_segment_names(node: Any, *, where: str = "definition") -> Any:
    """The definition with every membership rule that names a segment by its name (as a
    person or a script may write it) turned into that segment's id; RuleError when no
    segment has that name."""
    if not isinstance(node, Mapping):
        return node
    if "segment" in node and isinstance(node["segment"], str):
        name = node["segment"].strip()
        if name.isdigit():
            return {**node, "segment": int(name)}
        found = Segment.objects.filter(name__iexact=name).values_list("pk", flat=True).first()
        if found is None:
            close = get_close_matches(name, list(Segment.objects.values_list("name", flat=True)), 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise segment_rules.RuleError(f"{where}.segment", f"no segment named {name!r}{hint}")
        return {**node, "segment": found}
    resolved: dict[str, Any] = {}
    for key, child in node.items():
        if key in ("all", "any") and isinstance(child, list):
            resolved[key] = [
                resolve_segment_names(c, where=f"{where}.{key}[{i}]") for i, c in enumerate(child)
            ]
        elif key == "not":
            resolved[key] = resolve_segment_names(child, where=f"{where}.not")
        else:
            resolved[key] = child
    return resolved


def check_names(definition: Mapping[str, Any]) -> None:
    """RuleError naming the first rule whose event or channel the data does not know.
    Events are checked only once events have been seen (a new install may prepare its
    segments before the first event); a goal's or a template's event always counts."""
    channels = set(channel_names())
    events: set[str] | None = None
    for path, node in _walk(definition, "definition"):
        if "channel" in node and isinstance(node["channel"], str):
            if node["channel"] not in channels:
                raise segment_rules.RuleError(
                    f"{path}.channel", _unknown("channel", node["channel"], channels)
                )
        if "event" in node and isinstance(node["event"], str):
            if events is None:
                events = _known_events()
            if events and node["event"] not in events:
                raise segment_rules.RuleError(
                    f"{path}.event", _unknown("event", node["event"], events, "has been seen")
                )


def _known_events() -> set[str]:
    from attribution.models import Goal

    seen = set(Touchpoint.objects.exclude(event="").values_list("event", flat=True).distinct())
    if not seen:
        return set()
    goals = set(Goal.objects.values_list("event", flat=True))
    templates = {
        node["event"]
        for t in segment_rules.TEMPLATES.values()
        for node in segment_rules.walk(t["definition"])
        if "event" in node
    }
    return seen | goals | templates


def _unknown(kind: str, name: str, known: set[str], verb: str = "exists") -> str:
    close = get_close_matches(name, sorted(known), 1, 0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no {kind} {name!r} {verb}{hint}"


def _walk(node: Any, path: str):
    if not isinstance(node, Mapping):
        return
    yield path, node
    for key in ("all", "any"):
        for i, child in enumerate(node.get(key) or ()):
            yield from _walk(child, f"{path}.{key}[{i}]")
    if "not" in node:
        yield from _walk(node["not"], f"{path}.not")
