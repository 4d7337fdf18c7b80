"""`bulk_set` on both databases: PostgreSQL's `UPDATE ... FROM jsonb_to_recordset(...)`
and the embedded SQLite's bulk_update must write the same values."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction

from cdp.models import Profile, Touchpoint
from cdp.services.bulk import bulk_set
from cdp.services.sources import create_source
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def test_bulk_set_writes_per_row_values_json_nulls_and_constants():
    source = create_source("pos", kind="pos")[0]
    ann, bob = ProfileFactory(), ProfileFactory()
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                source=source,
                message_id=f"m-{n}",
                type="track",
                event="Order Completed",
                timestamp=AT,
                received_at=AT,
                profile=profile,
            )
            for n, profile in ((1, ann), (2, bob), (3, bob))
        ]
    )
    one, two, three = Touchpoint.objects.order_by("message_id")

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

    rows = {
        t.message_id: (t.profile_id, t.user_id, t.resolved_at, t.event)
        for t in Touchpoint.objects.all()
    }
    assert rows == {
        "m-1": (None, "u-1", AT, "Checkout"),
        "m-2": (ann.pk, "u-2", AT, "Checkout"),
        "m-3": (bob.pk, "", None, "Order Completed"),  # not named: untouched
    }
    ann.refresh_from_db()
    assert ann.traits == {"email": "ann@example.com", "tags": [1]} and ann.updated_at == AT
    bob.refresh_from_db()
    assert bob.traits != ann.traits


def test_bulk_set_of_no_ids_writes_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk_set(Touchpoint, [], {"user_id": []}, resolved_at=AT)
    assert connection.vendor in ("postgresql", "sqlite")


def test_bulk_set_writes_times_amounts_and_any_text_as_given():
    source = create_source("pos", kind="pos")[0]
    one, two = Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                source=source, message_id=f"m-{n}", type="track", timestamp=AT, received_at=AT
            )
            for n in (1, 2)
        ]
    )
    text = 'O\'Brien "quoted" \\ back, {braces}, café, 日本, 🙂'

    bulk_set(
        Touchpoint,
        [one.pk, two.pk],
        {
            "sent_at": [AT + timedelta(microseconds=1), None],
            "revenue": [Decimal("1234567890.12"), Decimal("-0.50")],
            "page_url": [text, ""],
        },
    )

    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.sent_at, one.revenue, one.page_url) == (
        AT + timedelta(microseconds=1),
        Decimal("1234567890.12"),
        text,
    )
    assert (two.sent_at, two.revenue, two.page_url) == (None, Decimal("-0.50"), "")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce lengths")
def test_bulk_set_refuses_a_value_longer_than_its_column_instead_of_cutting_it():
    source = create_source("pos", kind="pos")[0]
    (one,) = Touchpoint.objects.bulk_create(
        [Touchpoint(source=source, message_id="m-1", type="track", timestamp=AT, received_at=AT)]
    )

    with pytest.raises(DataError), transaction.atomic():
        bulk_set(Touchpoint, [one.pk], {"user_id": ["u" * 256]})

    one.refresh_from_db()
    assert one.user_id == ""
