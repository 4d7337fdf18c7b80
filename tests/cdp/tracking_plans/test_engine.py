"""The pure part of tracking plans: the file, the checks, inference, Protocols exports."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.tracking_plans.engine.checks import (
    BLOCKED,
    FLAGGED,
    STRIPPED,
    compile_plan,
    strip,
)
from cdp.tracking_plans.engine.document import PlanError, read_plan
from cdp.tracking_plans.engine.inference import Observation, infer_plan
from cdp.tracking_plans.engine.protocols import from_protocols

SHOP = json.loads((Path(__file__).parent / "shop_plan.json").read_text())
ORDER = {"order_id": "o-1", "revenue": 129.9, "currency": "EUR"}


def shop(**modes) -> dict:
    plan = copy.deepcopy(SHOP)
    plan["modes"].update(modes)
    return read_plan(plan)


def check(plan, kind="track", name="Order Completed", properties=None, traits=None, context=None):
    return compile_plan(plan).check(
        kind, name, properties=properties, traits=traits, context=context or {}
    )


def found(verdict) -> list[tuple[str, str]]:
    return [(violation.kind, violation.field) for violation in verdict.violations]


def test_a_canonical_plan_reads_back_unchanged():
    assert read_plan(SHOP) == SHOP
    assert read_plan(read_plan(SHOP)) == SHOP


def test_a_short_plan_is_filled_in_canonically():
    plan = read_plan(
        {"name": " Mini ", "mode": "block", "modes": {"unplanned_property": "strip"}, "events": []}
    )
    assert plan == {
        "format": "omnitrail-tracking-plan/1",
        "name": "Mini",
        "description": "",
        "sources": [],
        "modes": {
            "unplanned_event": "block",
            "unplanned_property": "strip",
            "missing_required": "block",
            "wrong_type": "block",
            "out_of_range": "block",
        },
        "context": None,
        "identify_traits": None,
        "group_traits": None,
        "events": [],
    }


@pytest.mark.parametrize(
    "change, field, message",
    [
        (lambda p: p.update(name=""), "name", "must not be empty"),
        (lambda p: p.update(colour="red"), "colour", "not a key of a tracking plan"),
        (lambda p: p["modes"].update(wrong_type="strip"), "modes.wrong_type", "must be one of"),
        (lambda p: p["events"][1].update(type="alias"), "events[1].type", "must be one of"),
        (
            lambda p: p["events"][1].update(name="Order Completed"),
            "events[1].name",
            "already planned at events[0]",
        ),
        (
            lambda p: p["events"][0]["properties"]["properties"]["revenue"].update(type="money"),
            "events[0].properties.properties.revenue.type",
            "is not valid",
        ),
        (
            lambda p: p["events"][0]["properties"].update({"type": "array"}),
            "events[0].properties.type",
            "of type object",
        ),
        (
            lambda p: p["identify_traits"].update(
                {"$schema": "https://json-schema.org/draft/2020-12/schema"}
            ),
            "identify_traits.$schema",
            "draft-07",
        ),
        (lambda p: p.update(sources=["web", "web"]), "sources[1]", "listed twice"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_place(change, field, message):
    plan = copy.deepcopy(SHOP)
    change(plan)
    with pytest.raises(PlanError) as refused:
        read_plan(plan)
    assert refused.value.field == field
    assert message in refused.value.message


def test_a_planned_event_passes():
    verdict = check(shop(), properties={**ORDER, "products": [{"product_id": "p-1", "price": 5}]})
    assert verdict.violations == [] and verdict.action is None


def test_each_kind_is_found_where_it_is():
    verdict = check(
        shop(),
        properties={
            "revenue": "129.90",
            "currency": "GBP",
            "coupon": "AUTUMN",
            "products": [{"price": 5}, {"product_id": "p-2", "price": "5"}],
        },
    )
    assert sorted(found(verdict)) == [
        ("missing_required", "properties.order_id"),
        ("missing_required", "properties.products[0].product_id"),
        ("out_of_range", "properties.currency"),
        ("unplanned_property", "properties.coupon"),
        ("wrong_type", "properties.products[1].price"),
        ("wrong_type", "properties.revenue"),
    ]
    wrong = next(v for v in verdict.violations if v.field == "properties.revenue")
    assert (wrong.message, wrong.value) == ("must be number, got string", "129.90")
    assert verdict.action == FLAGGED


def test_an_unplanned_event_and_unplanned_traits():
    assert found(check(shop(), name="Coupon Applied", properties={"code": "X"})) == [
        ("unplanned_event", "event")
    ]
    verdict = check(shop(), kind="identify", name="", traits={"first_name": "Ada", "age": 36})
    assert sorted(found(verdict)) == [
        ("missing_required", "traits.email"),
        ("unplanned_property", "traits.age"),
    ]
    # Pages are planned by "*"; alias and group calls (no group traits planned) pass.
    assert check(shop(), kind="page", name="Autumn sale", properties={"x": 1}).action is None
    assert check(shop(), kind="alias", name="").action is None
    assert check(shop(), kind="group", name="", traits={"anything": 1}).action is None


def test_screens_are_left_alone_when_the_plan_lists_none():
    assert check(shop(), kind="screen", name="Home").action is None
    plan = copy.deepcopy(SHOP)
    plan["events"].append({"type": "screen", "name": "Cart", "properties": None})
    assert found(check(read_plan(plan), kind="screen", name="Home")) == [
        ("unplanned_event", "event")
    ]


@pytest.mark.parametrize(
    "modes, action, counted",
    [
        ({}, FLAGGED, 2),
        ({"unplanned_property": "allow", "wrong_type": "allow"}, None, 0),
        ({"unplanned_property": "allow"}, FLAGGED, 1),
        ({"unplanned_property": "strip"}, STRIPPED, 2),
        ({"unplanned_property": "strip", "wrong_type": "block"}, BLOCKED, 2),
        ({"unplanned_property": "block", "wrong_type": "allow"}, BLOCKED, 1),
    ],
)
def test_the_mode_of_each_kind_decides(modes, action, counted):
    verdict = check(shop(**modes), properties={"order_id": "o", "revenue": "1", "coupon": "X"})
    assert verdict.action == action
    assert len(verdict.violations) == counted
    if action == BLOCKED:
        assert verdict.blocking.kind in {kind for kind, mode in modes.items() if mode == "block"}


def test_stripping_takes_out_only_the_unplanned_keys_and_copies():
    plan = copy.deepcopy(SHOP)
    items = plan["events"][0]["properties"]["properties"]["products"]["items"]
    items["additionalProperties"] = False
    sent = {**ORDER, "coupon": "X", "products": [{"product_id": "p", "colour": "red"}]}
    verdict = check(read_plan(plan | {"modes": {"unplanned_property": "strip"}}), properties=sent)
    assert sorted(v.field for v in verdict.stripped) == [
        "properties.coupon",
        "properties.products[0].colour",
    ]
    kept = strip({"properties": sent}, verdict.stripped)["properties"]
    assert kept == {**ORDER, "products": [{"product_id": "p"}]}
    assert sent["coupon"] == "X" and sent["products"][0]["colour"] == "red"


def test_additional_properties_true_plans_every_key():
    plan = copy.deepcopy(SHOP)
    plan["events"][1]["properties"]["additionalProperties"] = True
    verdict = check(read_plan(plan), name="Product Viewed", properties={"product_id": "p", "x": 1})
    assert verdict.action is None


EVENTS = [
    Observation("track", "Order Completed", {"order_id": "o-1", "revenue": 10, "tags": ["a"]}),
    Observation("track", "Order Completed", {"order_id": "o-2", "revenue": 12.5}),
    Observation("track", "Order Completed", {"order_id": "o-3", "revenue": 1, "coupon": None}),
    Observation("page", "", {"url": "https://shop.example.com/"}),
    Observation("page", "Home", {"url": "https://shop.example.com/", "title": "Home"}),
    Observation("identify", "", traits={"email": "ada@example.com", "vip": True}),
    Observation("alias", ""),
]


def test_inference_proposes_names_types_and_required_keys():
    plan = infer_plan(EVENTS, name="web (inferred)", sources=["web"])
    assert plan == read_plan(plan)
    assert plan["modes"] == dict.fromkeys(plan["modes"], "flag")
    assert [(e["type"], e["name"], e["description"]) for e in plan["events"]] == [
        ("track", "Order Completed", "seen 3 times"),
        ("page", "*", "seen 1 times"),
        ("page", "Home", "seen 1 times"),
    ]
    order = plan["events"][0]["properties"]
    assert {key: value["type"] for key, value in order["properties"].items()} == {
        "coupon": "null",
        "order_id": "string",
        "revenue": "number",  # integer and number seen: number
        "tags": "array",
    }
    assert order["properties"]["tags"]["description"] == "seen in 1 of 3"
    assert order["required"] == ["order_id", "revenue"]
    assert plan["identify_traits"]["properties"] == {
        "email": {"type": "string", "description": "seen in 1 of 1"},
        "vip": {"type": "boolean", "description": "seen in 1 of 1"},
    }
    assert plan["group_traits"] is None


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
events = st.lists(
    st.builds(
        Observation,
        st.sampled_from(["track", "page", "screen", "identify", "group"]),
        st.sampled_from(["Order Completed", "Signed Up", "", "Home"]),
        st.dictionaries(st.sampled_from(["a", "b", "c", "price"]), values, max_size=4),
        st.dictionaries(st.sampled_from(["email", "plan"]), values, max_size=2),
    ),
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(events)
def test_the_events_a_plan_was_inferred_from_break_none_of_its_rules(observed):
    compiled = compile_plan(infer_plan(observed, name="p", sources=[]))
    for seen in observed:
        verdict = compiled.check(
            seen.type,
            seen.name,
            properties=seen.properties,
            traits=seen.traits,
            context={},
        )
        assert verdict.violations == [], seen


CONFIG_API_EXPORT = {
    "name": "workspaces/acme/tracking-plans/rs_1a2b3c",
    "display_name": "Kicks App",
    "rules": {
        "global": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "context": {
                    "type": "object",
                    "properties": {"app": {"type": "object"}},
                },
                "properties": {
                    "type": "object",
                    "properties": {"platform": {"type": "string"}},
                    "required": ["platform"],
                },
                "traits": {},
            },
        },
        "events": [
            {
                "name": "Order Completed",
                "description": "Paid.",
                "version": 1,
                "rules": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "labels": {},
                    "properties": {
                        "context": {},
                        "traits": {},
                        "properties": {
                            "type": "object",
                            "properties": {"revenue": {"type": "number"}},
                            "required": ["revenue"],
                        },
                    },
                    "required": ["properties"],
                },
            }
        ],
        "identify": {
            "type": "object",
            "properties": {
                "traits": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}},
                }
            },
        },
        "group": {},
    },
}


def test_a_config_api_export_maps_onto_our_plan():
    plan = read_plan(from_protocols(CONFIG_API_EXPORT))
    assert plan["name"] == "Kicks App"
    assert plan["modes"] == dict.fromkeys(plan["modes"], "flag")
    assert plan["context"] == {"type": "object", "properties": {"app": {"type": "object"}}}
    assert plan["identify_traits"] == {
        "type": "object",
        "properties": {"email": {"type": "string"}},
    }
    assert plan["group_traits"] is None
    assert plan["events"] == [
        {
            "type": "track",
            "name": "Order Completed",
            "description": "Paid.",
            "properties": {
                "type": "object",
                "properties": {"platform": {"type": "string"}, "revenue": {"type": "number"}},
                "required": ["revenue", "platform"],
            },
        }
    ]


def test_a_public_api_export_keeps_the_latest_version_of_each_rule():
    def rule(kind, key, version, properties):
        return {
            "type": kind,
            "key": key,
            "version": version,
            "jsonSchema": {"properties": {"properties": properties, "context": {}, "traits": {}}},
        }

    export = {
        "name": "Web",
        "description": "From Segment",
        "rules": [
            rule("TRACK", "Signed Up", 1, {"type": "object", "properties": {"plan": {}}}),
            rule("TRACK", "Signed Up", 2, {"type": "object", "properties": {"tier": {}}}),
            rule("PAGE", "Pricing", 1, {"type": "object", "properties": {"url": {}}}),
            {
                "type": "IDENTIFY",
                "key": "",
                "version": 1,
                "jsonSchema": {"properties": {"traits": {"properties": {"email": {}}}}},
            },
        ],
    }
    plan = read_plan(from_protocols(export))
    assert (plan["name"], plan["description"]) == ("Web", "From Segment")
    assert [
        (e["type"], e["name"], list(e["properties"]["properties"])) for e in plan["events"]
    ] == [
        ("track", "Signed Up", ["tier"]),
        ("page", "Pricing", ["url"]),
    ]
    assert plan["identify_traits"] == {"type": "object", "properties": {"email": {}}}
    with pytest.raises(PlanError) as refused:
        from_protocols({"rules": [{"type": "ALIAS"}]})
    assert refused.value.field == "rules[0].type"
