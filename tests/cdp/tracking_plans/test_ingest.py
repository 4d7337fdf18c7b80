"""Tracking plans at ingestion, through POST /v1/batch: what is stored, what is refused
and why, and the violation counts."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.utils import timezone

from cdp.models import PlanViolationCount, RejectedEvent, Touchpoint
from cdp.services.ingest import ingest_batch
from cdp.services.sources import create_source
from cdp.tracking_plans.selectors import violations
from cdp.tracking_plans.services import save_plan

pytestmark = pytest.mark.django_db

SHOP = json.loads((Path(__file__).parent / "shop_plan.json").read_text())


def plan_for(source, **modes):
    document = copy.deepcopy(SHOP)
    document["sources"] = [source.name]
    document["modes"].update(modes)
    return save_plan(document)


def order(message_id: str, **properties) -> dict:
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": "u-1",
        "messageId": message_id,
        "properties": {"order_id": f"o-{message_id}", "revenue": 10.5, **properties},
    }


def counts() -> list[tuple]:
    return sorted(
        PlanViolationCount.objects.values_list("event_name", "property", "kind", "action", "count")
    )


def test_planned_events_are_stored_and_count_nothing(web_source, segment_post):
    source, key = web_source
    plan_for(source, unplanned_event="block", unplanned_property="block", wrong_type="block")
    body = segment_post(
        "batch",
        {
            "batch": [
                order("m1", currency="EUR"),
                {"type": "page", "anonymousId": "a-1", "name": "Home", "messageId": "m2"},
                {"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}},
            ]
        },
        write_key=key,
    ).json()
    assert (body["accepted"], body["rejected"]) == (3, [])
    assert Touchpoint.objects.count() == 3
    assert PlanViolationCount.objects.count() == 0


def test_block_rejects_the_event_naming_the_field_and_keeps_it(web_source, segment_post):
    source, key = web_source
    plan_for(source, wrong_type="block")
    response = segment_post(
        "batch", {"batch": [order("m1"), order("m2", revenue="10.50")]}, write_key=key
    )
    body = response.json()
    assert response.status_code == 200
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {
            "index": 1,
            "code": "tracking_plan_wrong_type",
            "field": "batch[1].properties.revenue",
            "message": "batch[1].properties.revenue: must be number, got string (wrong type "
            "in the tracking plan 'Web shop')",
        }
    ]
    assert list(Touchpoint.objects.values_list("message_id", flat=True)) == ["m1"]
    kept = RejectedEvent.objects.get()
    assert (kept.code, kept.payload["messageId"]) == ("tracking_plan_wrong_type", "m2")
    assert counts() == [("Order Completed", "properties.revenue", "wrong_type", "blocked", 1)]


def test_a_batch_refused_whole_by_the_plan_is_a_400(web_source, segment_post):
    source, key = web_source
    plan_for(source, unplanned_event="block")
    response = segment_post(
        "track", {"event": "Coupon Applied", "userId": "u-1", "properties": {}}, write_key=key
    )
    assert response.status_code == 400
    assert response.json()["code"] == "tracking_plan_unplanned_event"
    assert response.json()["field"] == "event"
    assert Touchpoint.objects.count() == 0


def test_strip_stores_the_event_without_the_unplanned_properties(web_source, segment_post):
    source, key = web_source
    plan_for(source, unplanned_property="strip")
    body = segment_post(
        "batch", {"batch": [order("m1", coupon="AUTUMN", gift=True)]}, write_key=key
    ).json()
    assert (body["accepted"], body["rejected"]) == (1, [])
    assert body["warnings"] == [
        {
            "index": 0,
            "code": "tracking_plan_stripped",
            "field": "batch[0].properties",
            "message": "batch[0].properties.coupon, batch[0].properties.gift: not in the "
            "tracking plan 'Web shop'; stored without them",
        }
    ]
    stored = Touchpoint.objects.get()
    assert stored.properties == {"order_id": "o-m1", "revenue": 10.5}
    assert counts() == [
        ("Order Completed", "properties.coupon", "unplanned_property", "stripped", 1),
        ("Order Completed", "properties.gift", "unplanned_property", "stripped", 1),
    ]


def test_allow_stores_and_counts_nothing(web_source, segment_post):
    source, key = web_source
    plan_for(source, unplanned_event="allow", unplanned_property="allow")
    body = segment_post(
        "batch",
        {
            "batch": [
                order("m1", coupon="X"),
                {"type": "track", "event": "Coupon Applied", "userId": "u", "messageId": "m2"},
            ]
        },
        write_key=key,
    ).json()
    assert (body["accepted"], body["rejected"]) == (2, [])
    assert Touchpoint.objects.get(message_id="m1").properties["coupon"] == "X"
    assert counts() == []


def test_counts_add_up_per_day_and_a_retry_counts_nothing_twice(web_source, segment_post):
    source, key = web_source
    plan = plan_for(source)
    first = [order(f"m{i}", revenue="1") for i in range(3)] + [order("m3")]
    second = [order("m4", revenue="2"), order("m5", coupon="X")]
    second.append({"type": "track", "event": "Coupon Applied", "userId": "u", "messageId": "m6"})
    segment_post("batch", {"batch": first}, write_key=key)
    segment_post("batch", {"batch": second}, write_key=key)
    segment_post("batch", {"batch": second}, write_key=key)  # a client's retry
    assert counts() == [
        ("Coupon Applied", "event", "unplanned_event", "flagged", 1),
        ("Order Completed", "properties.coupon", "unplanned_property", "flagged", 1),
        ("Order Completed", "properties.revenue", "wrong_type", "flagged", 4),
    ]
    today = timezone.now().date()
    assert set(PlanViolationCount.objects.values_list("day", flat=True)) == {today}
    found = violations(plan, days=1)
    assert [(row["property"], row["count"], row["new"]) for row in found] == [
        ("properties.revenue", 4, True),
        ("event", 1, True),
        ("properties.coupon", 1, True),
    ]
    assert found[0]["sample"] == {
        "message_id": "m4",
        "field": "properties.revenue",
        "value": '"2"',
        "message": "must be number, got string",
    }
    assert found[0]["actions"] == {"flagged": 4}


def test_a_kind_first_seen_long_ago_is_no_longer_new(web_source, segment_post):
    source, key = web_source
    plan = plan_for(source)
    segment_post("batch", {"batch": [order("m1", revenue="1")]}, write_key=key)
    PlanViolationCount.objects.update(first_seen_at=datetime(2026, 1, 1, tzinfo=UTC))
    segment_post("batch", {"batch": [order("m2", revenue="1"), order("m3", gift=1)]}, write_key=key)
    assert [(row["property"], row["count"], row["new"]) for row in violations(plan)] == [
        ("properties.gift", 1, True),
        ("properties.revenue", 2, False),
    ]


def test_a_source_without_a_plan_is_not_checked(web_source, segment_post):
    _, key = web_source
    other, _ = create_source("app", kind="app")
    plan_for(other, unplanned_event="block")
    body = segment_post(
        "batch", {"batch": [{"type": "track", "event": "X", "userId": "u"}]}, write_key=key
    ).json()
    assert body["accepted"] == 1


def test_an_edited_plan_applies_to_the_next_batch(web_source, segment_post):
    source, key = web_source
    plan = plan_for(source)
    segment_post("batch", {"batch": [order("m1", revenue="1")]}, write_key=key)
    document = copy.deepcopy(SHOP) | {"sources": [source.name]}
    document["modes"]["wrong_type"] = "block"
    save_plan(document, plan=plan)
    body = segment_post("batch", {"batch": [order("m2", revenue="1")]}, write_key=key).json()
    assert body["rejected"][0]["code"] == "tracking_plan_wrong_type"


def test_rudder_identify_traits_in_context_are_checked_and_stripped(web_source):
    source, _ = web_source
    plan_for(source, unplanned_property="strip")
    result = ingest_batch(
        source,
        [
            {
                "type": "identify",
                "userId": "u-1",
                "messageId": "m1",
                "context": {"traits": {"email": "a@example.com", "shoe_size": 42}},
            }
        ],
        field_prefix="",
    )
    assert [w.field for w in result.warnings] == ["context"]
    assert "context.traits.shoe_size" in result.warnings[0].message
    assert Touchpoint.objects.get().context["traits"] == {"email": "a@example.com"}
    assert counts() == [("", "context.traits.shoe_size", "unplanned_property", "stripped", 1)]


def test_a_batch_is_checked_with_a_bounded_number_of_queries(
    web_source, django_assert_max_num_queries
):
    source, _ = web_source
    plan_for(source)
    ingest_batch(source, [order("warm", revenue="1")])
    batch = [order(f"m{i}", revenue="1", coupon="X") for i in range(100)]
    # The plan's look-up and one upsert of the counts beside what ingestion does anyway
    # (savepoint, the look-up of stored ids, the insert: 4 statements on SQLite).
    with django_assert_max_num_queries(9):
        result = ingest_batch(source, batch)
    assert result.accepted == 100
    assert PlanViolationCount.objects.get(property="properties.revenue").count == 101


def test_erasure_empties_the_samples_of_a_person_and_keeps_the_counts(web_source, segment_post):
    from cdp.services.erasure import erase_profiles

    source, key = web_source
    plan_for(source)
    segment_post(
        "batch",
        {"batch": [order("m1", contact="Ada.Lovelace@example.com"), order("m2", coupon="X")]},
        write_key=key,
    )
    deleted = erase_profiles([], ["ada.lovelace@example.com"])
    assert deleted["plan_violation_samples"] == 1
    assert sorted(PlanViolationCount.objects.values_list("property", "count", "sample")) == [
        ("properties.contact", 1, {}),
        (
            "properties.coupon",
            1,
            {
                "message_id": "m2",
                "field": "properties.coupon",
                "value": '"X"',
                "message": "not in the tracking plan",
            },
        ),
    ]


def test_an_erased_persons_blocked_event_is_dropped_not_kept_as_a_rejection(web_source):
    from consent.suppression import suppress

    source, _ = web_source
    plan_for(source, unplanned_event="block")
    suppress([("user_id", "u-erased")])
    result = ingest_batch(
        source,
        [
            {"type": "track", "event": "Nope", "userId": "u-erased", "messageId": "m1"},
            {"type": "track", "event": "Nope", "userId": "u-1", "messageId": "m2"},
        ],
    )
    assert (result.accepted, result.suppressed) == (0, 1)
    assert [rejection.index for rejection in result.rejected] == [1]
    assert list(RejectedEvent.objects.values_list("payload__messageId", flat=True)) == ["m2"]
    assert counts() == [("Nope", "event", "unplanned_event", "blocked", 1)]
