"""Tracking plans with the official Segment and RudderStack Python clients, unchanged,
against a live Omnitrail: planned events pass; an unplanned event, an unplanned
property, a wrong type and a missing required property are allowed, flagged, stripped
or blocked as the plan's modes say, the client is told, and the violations are counted.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdp.models import PlanViolationCount, RejectedEvent, Touchpoint
from cdp.tracking_plans.services import save_plan
from tests.e2e import test_segment_clients as clients
from tests.e2e.test_segment_clients import CLIENTS, whole_milliseconds

# The live server, the real clients and what they were answered, as the clients' own tests.
answers = clients.answers
make_client = clients.make_client
server_closes_database_connections = clients.server_closes_database_connections
source_and_key = clients.source_and_key

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = json.loads(
    (Path(__file__).parent.parent / "cdp" / "tracking_plans" / "shop_plan.json").read_text()
)
ORDER = {"order_id": "o-1", "revenue": 129.9, "currency": "eur"}


def send(client, run: str, at: datetime) -> None:
    """Two planned calls, then one of each violation (ids say which)."""
    client.identify(
        user_id=f"{run}-u",
        traits={"email": "ada@example.com", "first_name": "Ada"},
        timestamp=at,
        message_id=f"{run}-planned-identify",
    )
    calls = {
        "planned": ("Order Completed", ORDER),
        "unplanned-property": ("Order Completed", {**ORDER, "coupon": "AUTUMN"}),
        "unplanned-event": ("Coupon Applied", {"code": "AUTUMN"}),
        "wrong-type": ("Order Completed", {**ORDER, "revenue": "129.90"}),
        "missing-required": ("Order Completed", {"revenue": 12.0}),
    }
    for name, (event, properties) in calls.items():
        client.track(
            user_id=f"{run}-u",
            event=event,
            properties=properties,
            timestamp=at,
            message_id=f"{run}-{name}",
        )
    client.flush()


VIOLATING = {
    "unplanned-property": ("Order Completed", "properties.coupon", "unplanned_property"),
    "unplanned-event": ("Coupon Applied", "event", "unplanned_event"),
    "wrong-type": ("Order Completed", "properties.revenue", "wrong_type"),
    "missing-required": ("Order Completed", "properties.order_id", "missing_required"),
}


@pytest.mark.parametrize("mode", ["allow", "flag", "strip", "block"])
@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_official_clients_meet_the_plan_in_each_mode(
    kind, mode, source_and_key, make_client, answers
):
    source, write_key = source_and_key
    plan = copy.deepcopy(SHOP) | {"sources": [source.name]}
    # strip is a mode of unplanned properties only; the other kinds are flagged then.
    plan["modes"] = dict.fromkeys(plan["modes"], "flag" if mode == "strip" else mode)
    plan["modes"]["unplanned_property"] = mode
    save_plan(plan)
    client, errors = make_client(kind, write_key, gzip=True)
    run = f"{kind}-{mode}"
    send(client, run, whole_milliseconds(datetime.now(UTC) - timedelta(minutes=5)))

    stored = set(Touchpoint.objects.values_list("message_id", flat=True))
    rejected = [row for _, body in answers for row in body.get("rejected", [])]
    warnings = [row for _, body in answers for row in body.get("warnings", [])]
    counted = sorted(
        PlanViolationCount.objects.values_list("event_name", "property", "kind", "action", "count")
    )
    planned = {f"{run}-planned", f"{run}-planned-identify"}
    violating = {f"{run}-{name}" for name in VIOLATING}
    assert errors == []  # some events refused, never a whole batch: no client error

    if mode == "allow":
        assert stored == planned | violating
        assert (rejected, warnings, counted) == ([], [], [])
        return
    action = {"flag": "flagged", "strip": "flagged", "block": "blocked"}[mode]
    expected = {
        (event, field, violation, action, 1) for event, field, violation in VIOLATING.values()
    }
    if mode == "strip":
        expected.remove(
            ("Order Completed", "properties.coupon", "unplanned_property", "flagged", 1)
        )
        expected.add(("Order Completed", "properties.coupon", "unplanned_property", "stripped", 1))
    assert counted == sorted(expected)

    if mode == "block":
        assert stored == planned
        # Each refusal names its field within the batch (batch[i]. as the client batched).
        assert sorted((row["code"], row["field"].split(".", 1)[1]) for row in rejected) == [
            ("tracking_plan_missing_required", "properties.order_id"),
            ("tracking_plan_unplanned_event", "event"),
            ("tracking_plan_unplanned_property", "properties.coupon"),
            ("tracking_plan_wrong_type", "properties.revenue"),
        ]
        wrong = next(row for row in rejected if row["code"] == "tracking_plan_wrong_type")
        assert wrong["message"].endswith(
            "properties.revenue: must be number, got string (wrong type in the tracking "
            "plan 'Web shop')"
        )
        assert sorted(RejectedEvent.objects.values_list("payload__messageId", flat=True)) == sorted(
            violating
        )
        return
    assert stored == planned | violating
    assert rejected == []
    coupon = Touchpoint.objects.get(message_id=f"{run}-unplanned-property").properties
    if mode == "strip":
        assert coupon == ORDER
        assert [(row["code"], row["message"].split(": ", 1)[1]) for row in warnings] == [
            ("tracking_plan_stripped", "not in the tracking plan 'Web shop'; stored without it")
        ]
    else:
        assert coupon == {**ORDER, "coupon": "AUTUMN"}
        assert warnings == []
