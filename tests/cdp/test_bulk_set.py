"""`bulk_set` on both databases: PostgreSQL's `UPDATE ... FROM unnest(...)` and the
embedded SQLite's bulk_update must write the same values."""

from datetime import UTC, datetime

import pytest
from django.db import connection

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
