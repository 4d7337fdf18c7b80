"""COPY on PostgreSQL: rows stored as given, and nothing written when one is a duplicate."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from cdp.models import Touchpoint
from cdp.services.bulk import copy_if_all_new
from cdp.services.sources import create_source

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


def _setting(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


def test_statement_settings_hold_inside_only_and_go_back_after_an_error_too():
    from django.db import DatabaseError, transaction

    from cdp.services.bulk import statement_settings

    before = (_setting("work_mem"), _setting("jit"))
    assert before != ("64MB", "off")
    with transaction.atomic():  # inside a caller's transaction: put back at the end
        with statement_settings(work_mem="64MB", jit="off"):
            assert (_setting("work_mem"), _setting("jit")) == ("64MB", "off")
        assert (_setting("work_mem"), _setting("jit")) == before
        with pytest.raises(DatabaseError):  # an error: rolled back with the savepoint
            with statement_settings(work_mem="64MB"):
                assert _setting("work_mem") == "64MB"
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1 / 0")
        assert _setting("work_mem") == before[0]
