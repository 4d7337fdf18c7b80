"""Reports that reconcile (issue 16): what consent left out is counted as conversions and
value, so a report's totals plus the left-outs equal the stored orders; an offline
channel's conversions come with why it has no touchpoints."""

from datetime import UTC, datetime

import pytest
from django.db.models import Sum
from rest_framework.test import APIClient

from attribution.engine.monthly import UNTOUCHED_NOTE
from attribution.models import Goal
from attribution.services import refresh_attribution
from cdp.models import Touchpoint
from tests.attribution.conftest import parse_csv
from tests.attribution.test_monthly_report import three_months, when  # noqa: F401
from tests.factories import report_reader


@pytest.fixture
def stored(three_months, deliver):  # noqa: F811
    """The three months (ann 120, bob 30 and 50, dee 99 with analytics withdrawn) and a
    walk-in who buys for 55 in the shop on 20 Oct, with no touch before."""
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "walk-in",
            "timestamp": when(10, 20),
            "properties": {"revenue": 55},
        },
        source="pos",
        kind="pos",
    )
    return refresh_attribution("purchase", models=["linear", "markov"])


def api_report(name, **params):
    api = APIClient()
    api.force_authenticate(report_reader("reader"))
    response = api.get(f"/api/v1/attribution/reports/{name}", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_reported_plus_left_out_equals_the_stored_orders(stored):
    orders = Touchpoint.objects.filter(event="Order Completed")
    count, value = orders.count(), float(orders.aggregate(v=Sum("revenue"))["v"])
    assert (count, value) == (5, 354.0)  # 120 + 30 + 50 + 99 + 55
    body = api_report("reconciliation")
    assert body["stored"] == {"conversions": 5, "value": 354.0}
    assert body["reported"] == {"conversions": 4, "value": 255.0}
    assert body["left_out_for_consent"] == {"conversions": 1, "value": 99.0, "profiles": 1}
    assert body["not_resolved"] == {"conversions": 0, "value": 0.0}
    assert stored.conversions == body["reported"]["conversions"]  # the run's own totals
    assert float(stored.value) == body["reported"]["value"]
    monthly = api_report("monthly", model="linear")
    assert monthly["totals"]["revenue"] + body["left_out_for_consent"]["value"] == value
    assert (
        round(monthly["totals"]["conversions"]) + body["left_out_for_consent"]["conversions"]
        == count
    )


def test_a_goal_counting_the_first_conversion_names_the_repeats(stored):
    Goal.objects.filter(key="purchase").update(count_repeat=False)
    run = refresh_attribution("purchase", models=["linear"])
    body = run.summary["reconciliation"]
    # bob's second order (50) is a repeat the goal does not count
    assert body["repeats_not_counted"] == {"conversions": 1, "value": 50.0}
    assert body["reported"] == {"conversions": 3, "value": 205.0}
    parts = ("reported", "left_out_for_consent", "not_resolved", "repeats_not_counted")
    assert sum(body[p]["conversions"] for p in parts) == body["stored"]["conversions"] == 5
    assert run.conversions == 3


def test_the_overview_shows_left_out_orders_and_the_in_store_note(analyst, stored):
    html = analyst.get("/app/", {"model": "linear"}).content.decode()
    assert "1 conversions worth $99.00 left out with them" in html
    assert "<strong>5</strong> conversions stored, worth $354.00" in html
    assert "= 4 reported (worth $255.00)" in html
    by_channel = {
        row["channel"]: row for row in api_report("monthly", model="linear")["by_channel"]
    }
    shop = by_channel["In-store"]
    assert (shop["touchpoints"], shop["conversions"], shop["revenue"]) == (0, 1.0, 55.0)
    assert shop["note"] == UNTOUCHED_NOTE
    assert "note" not in by_channel["Display"]
    rows = parse_csv(analyst.get("/app/", {"model": "linear", "download": "channels"}))
    line = dict(zip(rows[0], next(r for r in rows[1:] if r[0] == "In-store"), strict=True))
    assert line["Conversions"] == "1.0" and line["Note"] == UNTOUCHED_NOTE


def test_when_ends_a_run_the_reconciliation_counts_up_to_it(three_months):  # noqa: F811
    run = refresh_attribution(
        "purchase", models=["linear"], until=datetime(2026, 9, 30, tzinfo=UTC)
    )
    body = run.summary["reconciliation"]
    # up to September: bob's 30, ann's 120, dee's 99; dee withdrew her consent after
    # that (today), so consent as it stood then leaves nobody out
    assert body["stored"] == {"conversions": 3, "value": 249.0}
    assert body["reported"] == {"conversions": 3, "value": 249.0} and run.conversions == 3
    assert body["left_out_for_consent"]["conversions"] == 0
