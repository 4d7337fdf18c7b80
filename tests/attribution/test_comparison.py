"""Paid ROAS and blended MER, GA4's model comparison and the early / middle / late split
of conversion paths: in the engine, the API, the attribution page and its CSV, against
figures worked by hand."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from attribution.engine.comparison import (
    compare_models,
    percent_change,
    position_counts,
    return_on_spend,
    touch_positions,
)
from attribution.engine.journeys import Journeys
from attribution.services import record_cost, refresh_attribution
from tests.attribution.conftest import at, parse_csv

SEARCH = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
DISPLAY = {"campaign": {"source": "gdn", "medium": "display", "name": "retarget"}}
EMAIL = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}


@pytest.fixture
def three_buyers(deliver):
    """ann: paid search (5 days before), email (3), display (1), buys for 120.
    bob: display (3), buys for 30. cy: paid search (4), buys for 60.
    Costs: paid search 50, display 35; email costs nothing.

    Linear: ann's 120 is 40 to each of her three touches (1/3 conversion each).
      Paid Search 1/3 + 1 = 1.3333 conversions, 40 + 60 = 100; Email 1/3, 40;
      Display 1/3 + 1 = 1.3333, 40 + 30 = 70.
    Position-based (40% first, 20% middle, 40% last): ann's 120 is 48, 24, 48.
      Paid Search 0.4 + 1 = 1.4, 108; Email 0.2, 24; Display 1.4, 78.
    """
    for user, visits, value in (
        ("ann", [(5, SEARCH), (3, EMAIL), (1, DISPLAY)], 120),
        ("bob", [(3, DISPLAY)], 30),
        ("cy", [(4, SEARCH)], 60),
    ):
        for days, context in visits:
            deliver({"type": "page", "userId": user, "timestamp": at(days), "context": context})
        deliver(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": user,
                "timestamp": at(0),
                "properties": {"revenue": value},
            }
        )
    for channel, campaign, cost in (("Paid Search", "brand", "50"), ("Display", "retarget", "35")):
        record_cost({"date": "2026-09-28", "channel": channel, "campaign": campaign, "cost": cost})
    return refresh_attribution("purchase", models=["linear", "position_based", "last_touch"])


def api_report(name, **params):
    api = APIClient()
    api.force_authenticate(User.objects.get_or_create(username="reader")[0])
    return api.get(f"/api/v1/attribution/reports/{name}", params)


# --- the engine -------------------------------------------------------------------------


def test_paid_roas_divides_paid_revenue_and_mer_all_revenue_by_the_cost():
    figures = return_on_spend(
        {"Paid Search": 100.0, "Display": 70.0, "Email": 40.0, "In-store": 90.0},
        {"Paid Search": 50.0, "Display": 35.0, "Email": 0.0},
    )
    assert figures == {
        "paid_channels": ["Display", "Paid Search"],
        "paid_revenue": 170.0,
        "paid_cost": 85.0,
        "paid_roas": 2.0,  # 170 / 85
        "revenue": 300.0,
        "cost": 85.0,
        "mer": 3.5294,  # 300 / 85
        "unpaid_revenue": 130.0,
    }
    nothing = return_on_spend({"Email": 10.0}, {})
    assert nothing["paid_roas"] is None and nothing["mer"] is None


def test_percent_change_from_the_first_model_to_the_second():
    assert percent_change(100.0, 108.0) == 8.0
    assert percent_change(70.0, 78.0) == 11.43  # 8 / 70
    assert percent_change(1 / 3, 0.2) == -40.0
    assert percent_change(0.0, 5.0) is None and percent_change(None, 1.0) is None


def test_compare_models_joins_lines_either_model_credits():
    rows = compare_models(
        [{"channel": "A", "conversions": 2.0, "revenue": 100.0, "cost": 50.0}],
        [
            {"channel": "A", "conversions": 1.5, "revenue": 125.0, "cost": 50.0},
            {"channel": "B", "conversions": 1.0, "revenue": 10.0, "cost": 0.0},
        ],
        keys=["channel"],
    )
    assert rows == [
        {
            "channel": "A",
            "cost": 50.0,
            "conversions_first": 2.0,
            "conversions_second": 1.5,
            "conversions_change_percent": -25.0,
            "revenue_first": 100.0,
            "revenue_second": 125.0,
            "revenue_change_percent": 25.0,
            "roas_first": 2.0,
            "roas_second": 2.5,
            "roas_change_percent": 25.0,
        },
        {
            "channel": "B",
            "cost": 0.0,
            "conversions_first": 0.0,
            "conversions_second": 1.0,
            "conversions_change_percent": None,
            "revenue_first": 0.0,
            "revenue_second": 10.0,
            "revenue_change_percent": None,
            "roas_first": None,
            "roas_second": None,
            "roas_change_percent": None,
        },
    ]


@pytest.mark.parametrize(
    ("length", "split"),
    [
        (1, (0, 0, 1)),  # the only touch is late
        (2, (1, 0, 1)),  # 25% of 2 rounds to 1; no middle under three touches
        (3, (1, 1, 1)),
        (4, (1, 2, 1)),
        (5, (1, 2, 2)),  # 1.25: early rounds to 1, late rounds up to 2
        (6, (2, 2, 2)),  # 1.5 rounds to 2
        (7, (2, 3, 2)),
        (8, (2, 4, 2)),
    ],
)
def test_early_middle_and_late_touches_as_ga4_counts_them(length, split):
    assert position_counts(length) == split


def test_each_touch_gets_its_position_in_its_own_path():
    journeys = Journeys.from_paths([list("ABCDE"), ["A"], ["A", "B"]])
    assert touch_positions(journeys).tolist() == [0, 1, 1, 2, 2, 2, 0, 2]


# --- through a run: the API and the page ------------------------------------------------


def test_the_api_reports_paid_roas_and_blended_mer(three_buyers):
    linear = api_report("roas", model="linear").json()["results"]
    assert linear["paid_channels"] == ["Display", "Paid Search"]
    assert linear["paid_revenue"] == 170.0 and linear["paid_cost"] == 85.0
    assert linear["paid_roas"] == 2.0
    assert linear["revenue"] == 210.0 and linear["mer"] == 2.4706  # 210 / 85
    positioned = api_report("roas", model="position_based").json()["results"]
    assert positioned["paid_revenue"] == 186.0 and positioned["paid_roas"] == 2.1882
    assert positioned["mer"] == 2.4706  # all revenue is all revenue, whatever the model


def test_the_monthly_report_carries_paid_roas_and_mer(three_buyers):
    body = api_report("monthly", model="linear").json()["results"]
    assert body["return_on_spend"]["paid_roas"] == 2.0
    assert body["return_on_spend"]["mer"] == 2.4706


def test_the_comparison_per_channel_against_hand_computed_changes(three_buyers):
    body = api_report("compare", model="linear", compare="position_based").json()["results"]
    rows = {row["channel"]: row for row in body["rows"]}
    search, email, display = rows["Paid Search"], rows["Email"], rows["Display"]
    assert (search["conversions_first"], search["conversions_second"]) == (1.333333, 1.4)
    assert search["conversions_change_percent"] == 5.0  # 1.4 / (4/3) - 1
    assert (search["revenue_first"], search["revenue_second"]) == (100.0, 108.0)
    assert search["revenue_change_percent"] == 8.0
    assert (search["roas_first"], search["roas_second"]) == (2.0, 2.16)
    assert search["roas_change_percent"] == 8.0
    assert email["conversions_change_percent"] == -40.0  # 1/3 to 0.2
    assert email["revenue_change_percent"] == -40.0  # 40 to 24
    assert email["roas_first"] is None and email["roas_change_percent"] is None
    assert display["revenue_change_percent"] == 11.43  # 70 to 78
    assert display["roas_second"] == 2.2286  # 78 / 35
    assert body["return_on_spend"]["second"]["paid_roas"] == 2.1882
    campaigns = api_report(
        "compare", model="linear", compare="last_touch", group_by="campaign"
    ).json()["results"]["rows"]
    brand = next(row for row in campaigns if row["campaign"] == "brand")
    # last touch: only cy's 60 for brand (ann's last touch is display)
    assert brand["revenue_first"] == 100.0 and brand["revenue_second"] == 60.0
    assert brand["revenue_change_percent"] == -40.0


def test_the_comparison_needs_a_second_model_of_the_run(three_buyers):
    missing = api_report("compare", model="linear")
    assert missing.status_code == 400 and "compare" in missing.json()["message"]
    absent = api_report("compare", model="linear", compare="markov")
    assert absent.status_code == 400 and absent.json()["field"] == "compare"


def test_early_middle_and_late_credit_through_a_run(three_buyers):
    rows = api_report("path-positions", model="linear").json()["results"]
    by = {row["channel"]: row for row in rows}
    # ann's path search > email > display: one early, one middle, one late touch
    assert by["Paid Search"]["early_revenue"] == 40.0 and by["Paid Search"]["late_revenue"] == 60.0
    assert by["Paid Search"]["middle_revenue"] == 0.0
    assert by["Paid Search"]["early_share"] == 0.25  # 1/3 of 4/3
    assert by["Email"]["middle_conversions"] == 0.333333 and by["Email"]["middle_share"] == 1.0
    assert by["Display"]["late_revenue"] == 70.0 and by["Display"]["early_revenue"] == 0.0
    positioned = {
        row["channel"]: row
        for row in api_report("path-positions", model="position_based").json()["results"]
    }
    assert positioned["Email"]["middle_revenue"] == 24.0
    assert positioned["Paid Search"]["early_revenue"] == 48.0


def test_the_attribution_page_and_its_csv_compare_two_models(analyst, three_buyers):
    page = analyst.get("/app/attribution/", {"model": "linear", "compare": "position_based"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Model comparison: Linear against Position-based (U-shaped)" in html
    assert "Blended MER" in html
    rows = parse_csv(
        analyst.get(
            "/app/attribution/",
            {"model": "linear", "compare": "position_based", "download": "compare"},
        )
    )
    header, body = rows[0], {row[0]: row for row in rows[1:]}
    search = dict(zip(header, body["Paid Search"], strict=True))
    assert search["Revenue (Linear)"] == "100.0"
    assert search["Revenue (Position-based (U-shaped))"] == "108.0"
    assert search["Revenue change %"] == "8.0"
    assert search["ROAS change %"] == "8.0"
    ros = parse_csv(analyst.get("/app/attribution/", {"download": "return_on_spend"}))
    linear = dict(zip(ros[0], next(r for r in ros[1:] if r[0] == "Linear"), strict=True))
    assert linear["Paid ROAS"] == "2.0" and linear["Blended MER"] == "2.47"
    positions = parse_csv(
        analyst.get(
            "/app/attribution/",
            {"model": "linear", "compare": "position_based", "download": "positions"},
        )
    )
    email = dict(zip(positions[0], next(r for r in positions[1:] if r[0] == "Email"), strict=True))
    assert email["Linear middle revenue"] == "40.0"
    assert email["Position-based (U-shaped) middle revenue"] == "24.0"
    bad = analyst.get("/app/attribution/", {"compare": "magic"})
    assert bad.status_code == 400 and "magic" in bad.content.decode()


def test_the_overview_shows_paid_roas_and_mer(analyst, three_buyers):
    html = analyst.get("/app/", {"model": "linear"}).content.decode()
    assert 'data-figure="paid-roas"' in html and 'data-figure="mer"' in html
    assert ">2.47<" in html.replace("\n", "")  # the MER card: 210 / 85
