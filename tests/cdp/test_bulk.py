"""COPY on PostgreSQL: rows stored as given, and nothing written when one is a duplicate."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from cdp.models import Profile, Touchpoint
from cdp.services.bulk import copy_if_all_new
from cdp.services.sources import create_source
from tests.factories import ProfileFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

AT = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def row(source, message_id, **extra):
    return {
        "source_id": source.pk,
        "message_id": message_id,
        "type": "track",
        "event": "Order Completed",
        "timestamp": AT,
        "received_at": AT,
        "properties": {"revenue": 12.5, "products": [{"sku": "b-1"}], "note": "tab\there"},
        "context": {"ip": "203.0.113.9"},
        "ip": "203.0.113.9",
        "revenue": Decimal("12.50"),
        **extra,
    }


def test_rows_are_stored_as_given_with_defaults_for_the_rest():
    source = create_source("pos", kind="pos")[0]

    assert copy_if_all_new(Touchpoint, [row(source, "m-1")])

    stored = Touchpoint.objects.get()
    assert stored.properties == {
        "revenue": 12.5,
        "products": [{"sku": "b-1"}],
        "note": "tab\there",
    }
    assert stored.revenue == Decimal("12.50") and stored.ip == "203.0.113.9"
    assert stored.timestamp == AT and stored.traits == {} and stored.user_id == ""
    assert stored.profile is None and stored.resolved_at is None


def test_a_duplicate_writes_nothing_and_leaves_the_transaction_usable():
    source = create_source("pos", kind="pos")[0]
    assert copy_if_all_new(Touchpoint, [row(source, "m-1")])

    assert not copy_if_all_new(Touchpoint, [row(source, "m-2"), row(source, "m-1")])

    assert list(Touchpoint.objects.values_list("message_id", flat=True)) == ["m-1"]


def test_bulk_set_writes_per_row_values_json_nulls_and_constants():
    from cdp.services.bulk import bulk_set

    source = create_source("pos", kind="pos")[0]
    assert copy_if_all_new(Touchpoint, [row(source, "m-1"), row(source, "m-2")])
    one, two = Touchpoint.objects.order_by("message_id")
    ann, bob = ProfileFactory(), ProfileFactory()
    one.profile, two.profile = ann, bob
    Touchpoint.objects.bulk_update([one, two], ["profile"])

    bulk_set(
        Touchpoint,
        [one.pk, two.pk],
        {"profile_id": [None, ann.pk], "user_id": ["u-1", "u-2"]},
        resolved_at=AT,
        event="Checkout",
    )
    bulk_set(
        Profile, [ann.pk], {"traits": [{"email": "ann@example.com", "tags": [1]}]}, updated_at=AT
    )

    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.profile_id, one.user_id, one.resolved_at, one.event) == (
        None,
        "u-1",
        AT,
        "Checkout",
    )
    assert (two.profile_id, two.user_id, two.resolved_at, two.event) == (
        ann.pk,
        "u-2",
        AT,
        "Checkout",
    )
    ann.refresh_from_db()
    assert ann.traits == {"email": "ann@example.com", "tags": [1]} and ann.updated_at == AT
