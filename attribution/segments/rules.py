"""Segment definitions: their grammar, validation, description in words, the admin's
rows, and the built-in templates. Pure: no Django (the compiler to database queries is
in attribution/segments/selectors.py).

A definition is a tree. Groups combine rules: {"all": [...]} (AND), {"any": [...]} (OR),
{"not": rule} (NOT), nested at will. A rule is one of:

    {"trait": "city", "op": "equals", "value": "Paris"}
    {"event": "Order Completed", "did": true, "at_least": 2, "within_days": 60,
     "where": {"category": "Jackets"}}
    {"fact": "first_touch_channel", "op": "equals", "value": "Paid Social"}
    {"channel": "Email"}                      (the profile was seen on that channel)
    {"segment": 12, "member": true}           (in, or with false not in, another segment)
    {"computed": "orders_90d", "op": "gte", "value": 2}   (a computed trait, by its key)

Trait operators: equals, not_equals, in, contains, gt, gte, lt, lte, between ([low,
high], both included), is_set, not_set. Facts (computed per profile by the facts
refresh) take the operators of their type; `days_since_last_order` compares with a
number of days. The consent purpose a segment is used for is set on the segment, not in
its rules: only profiles that consented to it are members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cdp.errors import OmnitrailError

TEXT_OPS = ("equals", "not_equals", "in", "contains", "is_set", "not_set")
NUMBER_OPS = ("equals", "not_equals", "in", "gt", "gte", "lt", "lte", "between")
TRAIT_OPS = tuple(dict.fromkeys(TEXT_OPS + NUMBER_OPS))
FACTS = {
    "first_touch_channel": "text",
    "last_touch_channel": "text",
    "last_touch_campaign": "text",
    "best_contact_channel": "text",
    "persona": "text",
    "channel_count": "number",
    "total_revenue": "number",
    "order_count": "number",
    "clv": "number",
    "rfm_score": "number",
    "recency_score": "number",
    "frequency_score": "number",
    "monetary_score": "number",
    "days_since_last_order": "number",
}
OP_WORDS = {
    "equals": "is",
    "not_equals": "is not",
    "in": "is one of",
    "contains": "contains",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "is_set": "is set",
    "not_set": "is not set",
}
MAX_DEPTH = 10


class RuleError(OmnitrailError, ValueError):
    """A definition that does not follow the grammar: `field` is the place that is wrong
    (e.g. `definition.all[1].op`), `message` what is wrong there; in words the two read
    `definition.all[1].op: must be one of ...`."""

    code = "invalid_segment_rule"
    field: str  # always named

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def validate(definition: Any, *, where: str = "definition") -> None:
    """Raise RuleError naming the first place (e.g. `definition.all[1].op`) that is wrong."""
    _check(definition, where, 0)


def _check(node: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RuleError(where, f"nested deeper than {MAX_DEPTH} groups")
    if not isinstance(node, Mapping) or not node:
        raise RuleError(where, "must be an object: a group (all, any, not) or a rule")
    for group in ("all", "any"):
        if group in node:
            _check_group(node, group, where, depth)
            return
    if "not" in node:
        _only(node, {"not"}, where)
        _check(node["not"], f"{where}.not", depth + 1)
        return
    for kind, check_rule in _RULE_CHECKS.items():
        if kind in node:
            check_rule(node, where)
            return
    raise RuleError(
        where,
        "not a group or a rule (expected one of all, any, not, trait, fact, "
        "event, channel, segment, computed)",
    )


def _check_group(node: Mapping[str, Any], group: str, where: str, depth: int) -> None:
    _only(node, {group}, where)
    children = node[group]
    if not isinstance(children, list) or not children:
        raise RuleError(f"{where}.{group}", "must be a non-empty list of rules")
    for i, child in enumerate(children):
        _check(child, f"{where}.{group}[{i}]", depth + 1)


def _check_trait(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"trait", "op", "value"}, where)
    _name(node["trait"], f"{where}.trait")
    _operator(node, TRAIT_OPS, "any", where)


def _check_fact(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"fact", "op", "value"}, where)
    fact = node["fact"]
    if fact not in FACTS:
        raise RuleError(f"{where}.fact", f"unknown fact {fact!r} (known: {', '.join(FACTS)})")
    kind = FACTS[fact]
    _operator(node, TEXT_OPS if kind == "text" else NUMBER_OPS, kind, where)


def _check_computed(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"computed", "op", "value"}, where)
    _name(node["computed"], f"{where}.computed")
    _operator(node, TRAIT_OPS, "any", where)


def _check_event(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"event", "did", "at_least", "within_days", "where"}, where)
    _name(node["event"], f"{where}.event")
    if not isinstance(node.get("did", True), bool):
        raise RuleError(f"{where}.did", "must be true or false")
    for key in ("at_least", "within_days"):
        if key in node and (type(node[key]) is not int or node[key] < 1):
            raise RuleError(f"{where}.{key}", "must be a whole number of at least 1")
    conditions = node.get("where", {})
    if not isinstance(conditions, Mapping) or any(
        not isinstance(k, str) or not k or isinstance(v, (dict, list))
        for k, v in conditions.items()
    ):
        raise RuleError(f"{where}.where", "must map property names to plain values")


def _check_channel(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"channel"}, where)
    _name(node["channel"], f"{where}.channel")


def _check_segment(node: Mapping[str, Any], where: str) -> None:
    _only(node, {"segment", "member"}, where)
    if type(node["segment"]) is not int:
        raise RuleError(f"{where}.segment", "must be the id of another segment")
    if not isinstance(node.get("member", True), bool):
        raise RuleError(f"{where}.member", "must be true or false")


# A rule's kind is the first of these keys it has; each checks its own keys.
_RULE_CHECKS: dict[str, Callable[[Mapping[str, Any], str], None]] = {
    "trait": _check_trait,
    "fact": _check_fact,
    "event": _check_event,
    "channel": _check_channel,
    "segment": _check_segment,
    "computed": _check_computed,
}


def _only(node: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(node) - allowed)
    if extra:
        raise RuleError(f"{where}.{extra[0]}", f"not allowed here (allowed: {', '.join(allowed)})")


def _name(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(where, "must be a non-empty name")


def _operator(node: Mapping[str, Any], ops: tuple[str, ...], kind: str, where: str) -> None:
    op = node.get("op")
    if op not in ops:
        raise RuleError(f"{where}.op", f"must be one of {', '.join(ops)} (got {op!r})")
    value = node.get("value")
    if op in ("is_set", "not_set"):
        return
    if "value" not in node:
        raise RuleError(f"{where}.value", f"required for {op}")
    if op == "between":
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
            or value[0] > value[1]
        ):
            raise RuleError(f"{where}.value", "between takes [low, high], two numbers, low <= high")
    elif op == "in":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{where}.value", "in takes a non-empty list")
    elif op in ("gt", "gte", "lt", "lte") or kind == "number":
        if not _is_number(value):
            raise RuleError(f"{where}.value", f"{op} compares with a number")
    elif isinstance(value, (dict, list)):
        raise RuleError(f"{where}.value", "must be a plain value")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def segments_referenced(definition: Mapping[str, Any]) -> set[int]:
    """The ids of the segments a definition's membership rules name."""
    found: set[int] = set()
    for node in walk(definition):
        if "segment" in node:
            found.add(node["segment"])
    return found


def walk(node: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield node
    for group in ("all", "any"):
        for child in node.get(group, ()):
            yield from walk(child)
    if "not" in node:
        yield from walk(node["not"])


def describe(node: Mapping[str, Any], names: Mapping[int, str] | None = None) -> str:
    """The definition in words, e.g. `first-touch channel is Paid Social and did not do
    "Order Completed" in the last 60 days`."""
    names = names or {}
    if "all" in node or "any" in node:
        joiner = " and " if "all" in node else " or "
        parts = [describe(child, names) for child in node.get("all", node.get("any"))]
        text = joiner.join(f"({p})" if (" and " in p or " or " in p) else p for p in parts)
        return text
    if "not" in node:
        return f"not ({describe(node['not'], names)})"
    if "event" in node:
        did = "did" if node.get("did", True) else "did not do"
        text = f'{did} "{node["event"]}"'
        if node.get("at_least", 1) > 1:
            text += f" at least {node['at_least']} times"
        if node.get("where"):
            text += " with " + ", ".join(f"{k} = {v}" for k, v in node["where"].items())
        if node.get("within_days"):
            text += f" in the last {node['within_days']} days"
        return text
    if "channel" in node:
        return f"was seen on {node['channel']}"
    if "segment" in node:
        name = names.get(node["segment"], f"segment {node['segment']}")
        return f'{"is" if node.get("member", True) else "is not"} in "{name}"'
    return _comparison_in_words(node)


def _comparison_in_words(node: Mapping[str, Any]) -> str:
    if "computed" in node:
        label = f"computed trait {node['computed']}"
    else:
        label = (
            f"trait {node['trait']}" if "trait" in node else node["fact"].replace("_", " ")
        ).replace("first touch", "first-touch")
    op = node["op"]
    if op in ("is_set", "not_set"):
        return f"{label} {OP_WORDS[op]}"
    value = node["value"]
    if op == "between":
        value = f"{value[0]} and {value[1]}"
    elif op == "in":
        value = ", ".join(str(v) for v in value)
    return f"{label} {OP_WORDS[op]} {value}"


# --- Rows: the admin's editor --------------------------------------------------------
# The admin edits a definition as rows: each row is one rule, rows with the same group
# number must all hold, and a profile is a member when any group holds ("any of all").
# Every definition in that shape round-trips; deeper trees are edited as JSON.


def rows_to_definition(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Rows of {group, negate, kind, name, op, value, at_least, within_days, where}
    to a definition: any of the groups, each all of its rules."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        rule = _row_rule(row)
        groups.setdefault(int(row.get("group") or 1), []).append(
            {"not": rule} if row.get("negate") else rule
        )
    if not groups:
        raise RuleError("definition", "add at least one rule")
    alls = [{"all": rules} for _, rules in sorted(groups.items())]
    return alls[0] if len(alls) == 1 else {"any": alls}


def _row_rule(row: Mapping[str, Any]) -> dict[str, Any]:
    # Form data: whatever the editor posted, checked by validate() afterwards.
    kind: Any = row.get("kind")
    name: Any = row.get("name")
    if kind == "event":
        rule: dict[str, Any] = {"event": name, "did": True}
        for key in ("at_least", "within_days"):
            if row.get(key):
                rule[key] = int(row[key])
        if row.get("where"):
            rule["where"] = dict(row["where"])
        return rule
    if kind == "channel":
        return {"channel": name}
    if kind == "segment":
        return {"segment": int(name), "member": True}
    rule = {kind: name, "op": row.get("op")}
    if row.get("op") not in ("is_set", "not_set"):
        rule["value"] = row.get("value")
    return rule


def definition_to_rows(definition: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The rows of a definition in "any of all" shape, or None when it is deeper."""
    groups = definition["any"] if "any" in definition else [definition]
    rows: list[dict[str, Any]] = []
    for number, group in enumerate(groups, start=1):
        rules = group["all"] if "all" in group else [group]
        for rule in rules:
            negate = "not" in rule
            rule = rule["not"] if negate else rule
            row = _rule_row(rule)
            if row is None:
                return None
            rows.append({"group": number, "negate": negate, **row})
    return rows


def _rule_row(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    if any(k in rule for k in ("all", "any", "not")):
        return None
    if "event" in rule:
        row = {"kind": "event", "name": rule["event"]}
        row |= {k: rule[k] for k in ("at_least", "within_days", "where") if k in rule}
        return row if rule.get("did", True) else None
    if "channel" in rule:
        return {"kind": "channel", "name": rule["channel"]}
    if "computed" in rule:
        return None  # no row kind for it yet: the definition is edited as JSON
    if "segment" in rule:
        return (
            {"kind": "segment", "name": str(rule["segment"])} if rule.get("member", True) else None
        )
    kind = "trait" if "trait" in rule else "fact"
    return {"kind": kind, "name": rule[kind], "op": rule["op"], "value": rule.get("value")}


# --- Built-in templates ------------------------------------------------------------

TEMPLATES: dict[str, dict[str, Any]] = {
    "rfm_champions": {
        "name": "Champions (RFM)",
        "description": "Bought recently, often and for a lot: R, F and M all 4 or 5.",
        "definition": {
            "all": [
                {"fact": "recency_score", "op": "gte", "value": 4},
                {"fact": "frequency_score", "op": "gte", "value": 4},
                {"fact": "monetary_score", "op": "gte", "value": 4},
            ]
        },
    },
    "rfm_loyal": {
        "name": "Loyal customers (RFM)",
        "description": "Buy often (F 4-5) and not too long ago (R 3 or more), not champions.",
        "definition": {
            "all": [
                {"fact": "frequency_score", "op": "gte", "value": 4},
                {"fact": "recency_score", "op": "gte", "value": 3},
                {"not": {"fact": "rfm_score", "op": "gte", "value": 12}},
            ]
        },
    },
    "rfm_at_risk": {
        "name": "At risk (RFM)",
        "description": "Used to buy often or for a lot, but not lately: R 1-2, F or M 3+.",
        "definition": {
            "all": [
                {"fact": "recency_score", "op": "between", "value": [1, 2]},
                {
                    "any": [
                        {"fact": "frequency_score", "op": "gte", "value": 3},
                        {"fact": "monetary_score", "op": "gte", "value": 3},
                    ]
                },
            ]
        },
    },
    "rfm_hibernating": {
        "name": "Hibernating (RFM)",
        "description": "Bought long ago, rarely, for little: R, F and M all 1-2.",
        "definition": {
            "all": [
                {"fact": "recency_score", "op": "between", "value": [1, 2]},
                {"fact": "frequency_score", "op": "between", "value": [1, 2]},
                {"fact": "monetary_score", "op": "between", "value": [1, 2]},
            ]
        },
    },
    "cart_abandoners": {
        "name": "Cart abandoners",
        "description": "Added to cart in the last 7 days and did not order in that time.",
        "definition": {
            "all": [
                {"event": "Product Added", "within_days": 7},
                {"event": "Order Completed", "did": False, "within_days": 7},
            ]
        },
    },
    "one_channel_buyers": {
        "name": "One-channel-only buyers",
        "description": "Bought, and were only ever seen on one channel.",
        "definition": {
            "all": [
                {"fact": "order_count", "op": "gte", "value": 1},
                {"fact": "channel_count", "op": "lte", "value": 1},
            ]
        },
    },
    "lapsed_customers": {
        "name": "Lapsed customers",
        "description": "Bought before, but not in the last 90 days.",
        "definition": {"fact": "days_since_last_order", "op": "gt", "value": 90},
    },
}


def persona_template(label: str, description: str) -> dict[str, Any]:
    """The template of one buyer persona found by the facts refresh."""
    return {
        "name": f"Persona: {label}",
        "description": description,
        "definition": {"fact": "persona", "op": "equals", "value": label},
    }
