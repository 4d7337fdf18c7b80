"""`import_records`: CRM records and POS events from files, with line-numbered errors."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cdp.models import RejectedEvent, Touchpoint
from cdp.services.sources import create_source
from identity.models import Identifier

pytestmark = pytest.mark.django_db

CRM_CSV = """crm_id,first_name,last_name,email,phone,birthday,city,tier
C-1,Jon,Smith,Jon.Smith@Example.com,(415) 555-0134,1980-02-01,London,gold
C-2,Ann,Lee,,,,,silver
,No,Key,nokey@example.com,,,,
C-3,Bo,Chen,bo@example.com,,,,
"""

POS_CSV = (
    "message_id,timestamp,event,user_id,traits.loyalty_id,traits.email,order_id,revenue,currency\n"
    """pos-1,2026-09-02T12:00:00Z,Order Completed,,L-77,,O-1,120.50,USD
pos-2,2026-09-03T12:00:00Z,Order Completed,,,,O-2,10.00,USD
pos-3,2026-09-04T12:00:00Z,Order Completed,,L-78,,O-3,ten,USD
"""
)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run the command; identity resolution (enqueued on commit) runs as in production."""

    def run_command(path, *, source, kind, id_column="id"):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("import_records", str(path), source=source, kind=kind, id_column=id_column)

    return run_command


def test_crm_records_are_stored_as_identifies_keyed_by_their_id(tmp_path, capsys, run):
    create_source("crm", kind="crm")
    path = tmp_path / "crm.csv"
    path.write_text(CRM_CSV)
    run(path, source="crm", kind="records", id_column="crm_id")
    out, err = capsys.readouterr()
    assert "4 rows, 3 stored, 0 already stored, 1 rejected" in out
    assert "line 4: crm_id: missing" in err
    rows = Touchpoint.objects.filter(type="identify").order_by("id")
    assert [r.context["externalIds"][0]["id"] for r in rows] == ["C-1", "C-2", "C-3"]
    first = rows[0]
    assert first.traits == {
        "first_name": "Jon",
        "last_name": "Smith",
        "email": "Jon.Smith@Example.com",
        "phone": "(415) 555-0134",
        "birthday": "1980-02-01",
        "city": "London",
        "tier": "gold",
    }
    # identity resolution placed the record and normalised its ids
    ids = dict(Identifier.objects.filter(profile=first.profile).values_list("kind", "value"))
    assert ids == {"crm_id": "C-1", "email": "jon.smith@example.com", "phone": "+14155550134"}
    assert RejectedEvent.objects.get().line == 4


def test_reimporting_the_same_file_stores_nothing_twice(tmp_path, capsys, run):
    create_source("crm", kind="crm")
    path = tmp_path / "crm.csv"
    path.write_text(CRM_CSV)
    run(path, source="crm", kind="records", id_column="crm_id")
    run(path, source="crm", kind="records", id_column="crm_id")
    out, _ = capsys.readouterr()
    assert "4 rows, 0 stored, 3 already stored, 1 rejected" in out
    assert Touchpoint.objects.count() == 3


def test_pos_events_need_an_identifier_and_a_numeric_revenue(tmp_path, capsys, run):
    create_source("pos", kind="pos")
    path = tmp_path / "pos.csv"
    path.write_text(POS_CSV)
    run(path, source="pos", kind="events")
    out, err = capsys.readouterr()
    assert "3 rows, 1 stored, 0 already stored, 2 rejected" in out
    assert "line 3: userId: either userId or anonymousId is required" in err
    assert "line 4: properties.revenue: must be a number" in err
    row = Touchpoint.objects.get()
    assert (row.event, row.revenue, row.currency) == ("Order Completed", Decimal("120.50"), "USD")
    assert row.context["traits"] == {"loyalty_id": "L-77"}
    assert row.properties["order_id"] == "O-1"
    assert Identifier.objects.get(profile=row.profile).value == "L-77"


def test_ndjson_events_and_a_bad_json_line(tmp_path, capsys, run):
    create_source("server", kind="server")
    path = tmp_path / "events.ndjson"
    path.write_text(
        '{"type": "track", "event": "Signed Up", "userId": "u-1", "messageId": "s-1"}\n'
        "{oops\n"
        '{"type": "identify", "userId": "u-1", "traits": {"email": "a@b.co"}}\n'
    )
    run(path, source="server", kind="events")
    out, err = capsys.readouterr()
    assert "3 rows, 2 stored, 0 already stored, 1 rejected" in out
    assert "line 2: invalid JSON" in err


def test_missing_id_column_and_unknown_source_are_clear_cli_errors(tmp_path, run):
    create_source("crm", kind="crm")
    path = tmp_path / "crm.csv"
    path.write_text(CRM_CSV)
    with pytest.raises(CommandError, match="line 1: the id column 'customer_no'"):
        run(path, source="crm", kind="records", id_column="customer_no")
    with pytest.raises(CommandError, match="--source: no source named 'nope'"):
        run(path, source="nope", kind="records")
    assert Touchpoint.objects.count() == 0
