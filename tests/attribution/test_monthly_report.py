"""The monthly cross-channel report: what a run keeps per month and channel, and the
figures of a range of months read back from it, against hand-computed numbers."""

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from attribution.engine.monthly import (
    month_span,
    months_between,
    parse_month,
    profiles_in,
    touch_figures,
)
from attribution.selectors.monthly import monthly_report
from attribution.services import record_cost, refresh_attribution
from consent.selectors import profile_by_identifier
from consent.services import record_consent
from tests.factories import report_reader

SEARCH = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
DISPLAY = {"campaign": {"source": "gdn", "medium": "display", "name": "retarget"}}
EMAIL = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}


def when(month: int, day: int) -> str:
    return datetime(2026, month, day, 12, tzinfo=UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def three_months(deliver):
    """August to October 2026.
    ann (signed in): paid search 10 Aug, email 5 Sep, buys for 120 on 6 Sep.
    bob (signed in): display 20 Aug, buys for 30 on 21 Aug; display 2 Oct, email 3 Oct,
    buys for 50 on 4 Oct.
    cy (never signed in): display 10 Sep and 12 Oct.
    dee (signed in, withdrew analytics consent): email 5 Sep, buys for 99 on 6 Sep.
    Costs: paid search 40 in August; display 10 in September and 20 in October; email
    5 in October."""
    visits = [
        ({"userId": "ann"}, when(8, 10), SEARCH),
        ({"userId": "ann"}, when(9, 5), EMAIL),
        ({"userId": "bob"}, when(8, 20), DISPLAY),
        ({"userId": "bob"}, when(10, 2), DISPLAY),
        ({"userId": "bob"}, when(10, 3), EMAIL),
        ({"anonymousId": "cy-browser"}, when(9, 10), DISPLAY),
        ({"anonymousId": "cy-browser"}, when(10, 12), DISPLAY),
        ({"userId": "dee"}, when(9, 5), EMAIL),
    ]
    for who, at, context in visits:
        deliver({"type": "page", **who, "timestamp": at, "context": context})
    for user, at, revenue in (
        ("ann", when(9, 6), 120),
        ("bob", when(8, 21), 30),
        ("bob", when(10, 4), 50),
        ("dee", when(9, 6), 99),
    ):
        deliver(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": user,
                "timestamp": at,
                "properties": {"revenue": revenue},
            }
        )
    record_consent(profile_by_identifier("user_id:dee"), "analytics", "withdrawn", channel="api")
    for day, channel, cost in (
        ("2026-08-05", "Paid Search", "40"),
        ("2026-09-15", "Display", "10"),
        ("2026-10-15", "Display", "20"),
        ("2026-10-01", "Email", "5"),
    ):
        record_cost({"date": day, "channel": channel, "cost": cost})


@pytest.mark.django_db
def test_a_run_keeps_touchpoints_profiles_and_credit_per_channel_and_month(three_months):
    run = refresh_attribution("purchase", models=["linear", "last_touch"])

    monthly = run.summary["monthly"]
    assert monthly["months"] == ["2026-08", "2026-09", "2026-10"]
    # dee is left out for consent: her email visit and order are nowhere.
    assert monthly["touches"] == {
        "Paid Search": {"2026-08": {"touchpoints": 1, "profiles": 1}},
        "Display": {
            "2026-08": {"touchpoints": 1, "profiles": 1},
            "2026-09": {"touchpoints": 1, "profiles": 1},
            "2026-10": {"touchpoints": 2, "profiles": 2},
        },
        "Email": {
            "2026-09": {"touchpoints": 1, "profiles": 1},
            "2026-10": {"touchpoints": 1, "profiles": 1},
        },
    }
    # Credit goes to the month of the conversion: ann's September order is half paid
    # search (from August) and half email.
    assert monthly["credited"]["linear"] == {
        "Display": {
            "2026-08": {"conversions": 1.0, "revenue": 30.0},
            "2026-10": {"conversions": 0.5, "revenue": 25.0},
        },
        "Paid Search": {"2026-09": {"conversions": 0.5, "revenue": 60.0}},
        "Email": {
            "2026-09": {"conversions": 0.5, "revenue": 60.0},
            "2026-10": {"conversions": 0.5, "revenue": 25.0},
        },
    }
    assert monthly["credited"]["last_touch"] == {
        "Display": {"2026-08": {"conversions": 1.0, "revenue": 30.0}},
        "Email": {
            "2026-09": {"conversions": 1.0, "revenue": 120.0},
            "2026-10": {"conversions": 1.0, "revenue": 50.0},
        },
    }
    # For each month: how many of its profiles were last touched before in which month.
    assert monthly["reach"]["identified"] == {
        "2026-08": {"": 2},  # ann, bob
        "2026-09": {"2026-08": 1},  # ann
        "2026-10": {"2026-08": 1},  # bob
    }
    assert monthly["reach"]["anonymous"] == {"2026-09": {"": 1}, "2026-10": {"2026-09": 1}}
    assert monthly["reach"]["channels"]["Display"] == {
        "2026-08": {"": 1},  # bob
        "2026-09": {"": 1},  # cy
        "2026-10": {"2026-08": 1, "2026-09": 1},  # bob, cy
    }
    assert run.profiles_left_out_for_consent == 1


@pytest.mark.django_db
def test_a_range_of_months_reads_back_hand_computed_figures(three_months):
    run = refresh_attribution("purchase", models=["linear"])

    report = monthly_report(run, model="linear", start="2026-09", end="2026-10-31")

    assert report["months"] == ["2026-09", "2026-10"]
    # ann, bob (identified) and cy (anonymous): three people, though five profile-months.
    assert report["totals"] == {
        "touchpoints": 5,
        "profiles": 3,
        "conversions": 2.0,
        "revenue": 170.0,
        "cost": 35.0,
        "roas": round(170 / 35, 4),
        "identified_profiles": 2,
        "anonymous_profiles": 1,
        "identified_share": round(2 / 3, 4),
    }
    assert report["profiles_left_out_for_consent"] == 1
    assert report["covers"] == {"start": "2026-08", "end": "2026-10"}
    months = {row["month"]: row for row in report["by_month"]}
    assert {k: months["2026-09"][k] for k in ("touchpoints", "profiles", "revenue", "roas")} == {
        "touchpoints": 2,
        "profiles": 2,
        "revenue": 120.0,
        "roas": 12.0,
    }
    # August (outside the range, inside the run): 2 touchpoints, 30 revenue, 40 cost.
    assert months["2026-09"]["change"] == {
        "touchpoints": 0,
        "profiles": 0,
        "conversions": 0.0,
        "revenue": 90.0,
        "cost": -30.0,
        "roas": 11.25,
    }
    assert months["2026-10"]["change"]["revenue"] == -70.0
    assert months["2026-10"]["change"]["roas"] == -10.0

    cells = {(row["month"], row["channel"]): row for row in report["by_channel_month"]}
    assert sorted(cells) == [
        ("2026-09", "Display"),
        ("2026-09", "Email"),
        ("2026-09", "Paid Search"),
        ("2026-10", "Display"),
        ("2026-10", "Email"),
        ("2026-10", "Paid Search"),  # nothing in October, 60 in September: shown
    ]
    assert cells["2026-10", "Display"] == {
        "month": "2026-10",
        "channel": "Display",
        "touchpoints": 2,
        "profiles": 2,
        "conversions": 0.5,
        "revenue": 25.0,
        "cost": 20.0,
        "roas": 1.25,
        "change": {
            "touchpoints": 1,
            "profiles": 1,
            "conversions": 0.5,
            "revenue": 25.0,
            "cost": 10.0,
            "roas": 1.25,
        },
    }
    assert cells["2026-09", "Email"]["roas"] is None  # nothing spent
    assert cells["2026-09", "Display"]["change"]["roas"] is None  # nothing spent in August

    channels = {row["channel"]: row for row in report["by_channel"]}
    assert channels["Display"]["profiles"] == 2  # cy in September, bob in October
    assert channels["Display"]["touchpoints"] == 3
    assert [row["channel"] for row in report["by_channel"]] == ["Email", "Paid Search", "Display"]

    movers = report["top_movers"]
    assert (movers["from"], movers["to"]) == ("2026-09", "2026-10")
    assert [(m["channel"], m["revenue_change"]) for m in movers["up"]] == [("Display", 25.0)]
    assert [
        (m["channel"], m["revenue_change"], m["revenue_change_percent"]) for m in movers["down"]
    ] == [
        ("Paid Search", -60.0, -100.0),
        ("Email", -35.0, -58.3),
    ]


@pytest.mark.django_db
def test_the_monthly_report_in_the_api_and_its_bad_filters_named(three_months):
    run = refresh_attribution("purchase", models=["linear"])
    api = APIClient()
    api.force_authenticate(report_reader("analyst"))

    body = api.get(
        "/api/v1/attribution/reports/monthly", {"model": "linear", "start": "2026-09"}
    ).json()

    assert body["run"] == run.pk and body["report"] == "monthly"
    assert body["results"] == monthly_report(run, model="linear", start="2026-09")
    for query, field in (
        ({"start": "2026-13"}, "start"),
        ({"end": "last month"}, "end"),
        ({"start": "2026-10", "end": "2026-09"}, "end"),
        ({"model": "markov"}, "model"),  # not in this run
    ):
        bad = api.get("/api/v1/attribution/reports/monthly", {"model": "linear", **query})
        assert bad.status_code == 400 and bad.json()["field"] == field, bad.json()


@pytest.mark.django_db
def test_a_run_without_touches_keeps_empty_months(db):
    run = refresh_attribution("purchase", models=["linear"])

    assert run.summary["monthly"]["months"] == []
    report = monthly_report(run, model="linear")
    assert report["months"] == [] and report["totals"]["profiles"] == 0


# --- the engine alone -------------------------------------------------------------------


def test_months_are_contiguous_and_parsed_from_months_or_dates():
    stamps = np.array(["2026-11-30T23:59", "2027-02-01T00:00"], dtype="datetime64[ns]")
    assert month_span(stamps, np.zeros(0, dtype="datetime64[ns]")) == [
        "2026-11",
        "2026-12",
        "2027-01",
        "2027-02",
    ]
    assert months_between("2026-12", "2027-01") == ["2026-12", "2027-01"]
    assert parse_month("2026-02-28") == "2026-02" and parse_month(" 2026-02 ") == "2026-02"
    for bad in ("2026-13", "2026-02-30", "Feb 2026", ""):
        with pytest.raises(ValueError, match="is not a month"):
            parse_month(bad)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(0, 5)),
        min_size=1,
        max_size=60,
    ),
    st.integers(0, 5),
    st.integers(0, 5),
)
def test_distinct_profiles_over_any_range_match_counting_them(touches, a, b):
    """Kept as previous-month counts, any range gives the distinct profiles touched."""
    start, end = min(a, b), max(a, b)
    months = [f"2026-{m:02d}" for m in range(1, 7)]
    profile, channel, month = (np.array(column) for column in zip(*touches, strict=True))
    figures = touch_figures(
        profile=profile,
        channel=channel,
        month=month,
        identified=profile % 2 == 0,
        channels=["Direct", "Email", "Display"],
        months=months,
    )
    inside = (month >= start) & (month <= end)
    for c, name in enumerate(["Direct", "Email", "Display"]):
        expected = len(set(profile[inside & (channel == c)].tolist()))
        reach = figures["reach"]["channels"].get(name, {})
        assert profiles_in(reach, months[start], months[end]) == expected
    everyone = profiles_in(figures["reach"]["identified"], months[start], months[end])
    everyone += profiles_in(figures["reach"]["anonymous"], months[start], months[end])
    assert everyone == len(set(profile[inside].tolist()))
    for m, name in enumerate(months):  # a month's own profiles: its row alone
        identified = sum(figures["reach"]["identified"].get(name, {}).values())
        assert identified == len(set(profile[(month == m) & (profile % 2 == 0)].tolist()))
