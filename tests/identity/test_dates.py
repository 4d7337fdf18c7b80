"""Dates in customer records read whatever their format, never dropped
(cdp/engine/dates.py, applied at ingestion to every date trait)."""

from __future__ import annotations

import datetime as dt
import io

import dateparser
import pytest
from django.core.management import call_command

from cdp.engine.dates import date_order_for_country, read_date
from cdp.models import Source, Touchpoint
from cdp.services.sources import create_source

TODAY = dt.date(2026, 12, 2)


@pytest.mark.parametrize(
    ("given", "order", "expected"),
    [
        ("1985-03-12", "DMY", "1985-03-12"),
        ("1985-3-2", "MDY", "1985-03-02"),
        ("1985-03-12T08:30:00", "DMY", "1985-03-12"),
        ("1985-03-12T08:30:00.120Z", "MDY", "1985-03-12"),
        ("1985-03-12 08:30:00+02:00", "DMY", "1985-03-12"),
        ("19850312", "DMY", "1985-03-12"),
        ("12/03/1985", "DMY", "1985-03-12"),
        ("12/03/1985", "MDY", "1985-12-03"),
        ("03/12/1985", "MDY", "1985-03-12"),
        ("12.03.1985", "DMY", "1985-03-12"),
        ("12-03-1985", "DMY", "1985-03-12"),
        ("1985/03/12", "MDY", "1985-03-12"),
        ("25/12/1985", "MDY", "1985-12-25"),  # only one order is a date
        ("12/03/85", "DMY", "1985-03-12"),
        ("03/12/85", "MDY", "1985-03-12"),
        ("01.02.30", "DMY", "1930-02-01"),  # a birthday: the last hundred years
        ("01.02.05", "DMY", "2005-02-01"),
        ("12 March 1985", "MDY", "1985-03-12"),
        ("March 12, 1985", "DMY", "1985-03-12"),
        ("29/02/2000", "DMY", "2000-02-29"),
    ],
)
def test_every_common_format_reads_as_an_iso_date(given, order, expected):
    assert read_date(given, order=order, past=True, today=TODAY) == expected


@pytest.mark.parametrize(
    "given", ["31/31/1985", "29/02/2001", "soon", "1985", "12/03", "", None, 19850312]
)
def test_what_is_no_date_reads_as_none(given):
    assert read_date(given, order="DMY", past=True, today=TODAY) is None


@pytest.mark.parametrize(
    "given", ["12/03/1985", "03/12/1985", "12.03.1985", "25/12/1985", "07-08-1999", "12/03/85"]
)
@pytest.mark.parametrize("order", ["DMY", "MDY"])
def test_numeric_dates_read_as_dateparser_reads_them(given, order):
    # The numeric formats are read without dateparser (a few milliseconds a value is
    # an hour on a million-record import); they must say what it says.
    expected = dateparser.parse(given, settings={"DATE_ORDER": order, "STRICT_PARSING": True})
    assert read_date(given, order=order, past=True, today=TODAY) == expected.date().isoformat()


def test_the_day_month_order_of_a_country_comes_from_its_date_format():
    assert date_order_for_country("US") == "MDY"
    assert date_order_for_country("United States") == "MDY"
    assert date_order_for_country("GB") == "DMY"
    assert date_order_for_country("Germany") == "DMY"
    assert date_order_for_country("JP") == "YMD"
    assert date_order_for_country("Atlantis") == date_order_for_country(None) == "DMY"


CSV = """crm_id,first_name,birthday,country,renewal_date
C-1,Ann,03/04/1985,US,2027-01-31
C-2,Bo,03/04/1985,GB,31.01.2027
C-3,Cy,19991231,,
C-4,Di,the 31st of Smarch,US,
"""


def _import(tmp_path, source, **options):
    path = tmp_path / "crm.csv"
    path.write_text(CSV)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_records",
        str(path),
        source=source,
        kind="records",
        id_column="crm_id",
        stdout=out,
        stderr=err,
        **options,
    )
    return out.getvalue(), err.getvalue()


def _birthdays():
    return {
        t.context["externalIds"][0]["id"]: t.traits.get("birthday")
        for t in Touchpoint.objects.all()
    }


@pytest.mark.django_db
def test_import_reads_dates_in_the_records_country_order_and_reports_the_unreadable(tmp_path):
    create_source("crm", kind="crm")
    out, err = _import(tmp_path, "crm")

    assert _birthdays() == {
        "C-1": "1985-03-04",  # US: month first
        "C-2": "1985-04-03",  # GB: day first
        "C-3": "1999-12-31",
        "C-4": "the 31st of Smarch",  # kept as given
    }
    renewal = {
        t.traits.get("first_name"): t.traits.get("renewal_date") for t in Touchpoint.objects.all()
    }
    assert renewal["Bo"] == "2027-01-31" and renewal["Ann"] == "2027-01-31"
    assert "4 rows, 4 stored" in out
    assert "1 stored rows with a value kept as given" in out
    assert err.strip() == (
        f"{tmp_path / 'crm.csv'}: line 5: traits.birthday: 'the 31st of Smarch' is not a date "
        "that can be read; kept as given (row stored)"
    )


@pytest.mark.django_db
def test_a_sources_date_order_wins_over_the_country(tmp_path):
    source, _ = create_source("crm", kind="crm")
    Source.objects.filter(pk=source.pk).update(date_order="DMY")
    _import(tmp_path, "crm")
    assert _birthdays()["C-1"] == "1985-04-03"


@pytest.mark.django_db
def test_the_api_stores_an_unreadable_birthday_as_given_and_warns(segment_post):
    source, key = create_source("web", kind="web")
    Source.objects.filter(pk=source.pk).update(date_order="MDY")
    answer = segment_post(
        "batch",
        {
            "batch": [
                {
                    "type": "identify",
                    "userId": "u1",
                    "messageId": "a",
                    "traits": {"birthday": "04/03/1985"},
                },
                {
                    "type": "identify",
                    "userId": "u2",
                    "messageId": "b",
                    "traits": {"birthday": "Smarch 3"},
                },
            ]
        },
        write_key=key,
    )
    assert answer.status_code == 200
    assert answer.json()["warnings"] == [
        {
            "index": 1,
            "code": "unreadable_date",
            "field": "batch[1].traits.birthday",
            "message": "batch[1].traits.birthday: 'Smarch 3' is not a date that can be read; "
            "kept as given",
        }
    ]
    stored = dict(Touchpoint.objects.values_list("user_id", "traits__birthday"))
    assert stored == {"u1": "1985-04-03", "u2": "Smarch 3"}
