"""Channel performance (`reports/channel-performance`, the overview's PPC, email, social and
search sections): every figure against counts made by hand on a small fixture."""

from datetime import UTC, datetime

import numpy as np
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from attribution.engine.performance import visits
from attribution.services import record_cost, refresh_attribution
from cdp.site.demo.report import say_channel_performance, say_return_on_spend
from tests.attribution.conftest import parse_csv

SEARCH = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
EMAIL = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}


def when(month: int, day: int, hour: int = 12, minute: int = 0) -> str:
    stamp = datetime(2026, month, day, hour, minute, tzinfo=UTC)
    return stamp.isoformat().replace("+00:00", "Z")


@pytest.fixture
def campaigns(deliver):
    """September and October 2026.

    ann: paid search (brand) 10 Sep 12:00 and a Direct view at 12:05 (the same visit:
      two views, engaged); the autumn email delivered 12 Sep 12:00, opened 13:00, its link
      clicked 13:01, the landing page (Email, autumn) at 13:02; buys for 120 at 13:10
      (inside that visit).
    bob: paid search 20 Sep (one view) and 2 Oct (one view); from Google's results
      (Organic Search) 3 Oct 12:00, buys for 50 at 12:10; the autumn email bounced.
    cy (anonymous): from Facebook (Organic Social) 5 Oct 12:00 and a Direct view 12:03.
    dee: the autumn email delivered and opened 12 Sep, then unsubscribed.
    Costs: paid search brand 30 (1,000 impressions, 20 clicks) in September and 20 (500
    impressions, 10 clicks) in October; email autumn 1.50 in September."""

    def page(who, at, context=None, referrer=None):
        context = dict(context or {})
        if referrer:
            context["page"] = {"referrer": referrer, "url": "https://shop.example/"}
        deliver({"type": "page", **who, "timestamp": at, "context": context})

    def track(who, event, at, properties):
        deliver({"type": "track", "event": event, **who, "timestamp": at, "properties": properties})

    ann, bob, cy, dee = (
        {"userId": "ann"},
        {"userId": "bob"},
        {"anonymousId": "cy-browser"},
        {"userId": "dee"},
    )
    autumn = {"campaign_name": "autumn", "email_id": "e1"}
    page(ann, when(9, 10), SEARCH)
    page(ann, when(9, 10, 12, 5))
    track(ann, "Email Delivered", when(9, 12), autumn)
    track(ann, "Email Opened", when(9, 12, 13), autumn)
    track(ann, "Email Link Clicked", when(9, 12, 13, 1), autumn)
    page(ann, when(9, 12, 13, 2), EMAIL)
    track(ann, "Order Completed", when(9, 12, 13, 10), {"revenue": 120})
    page(bob, when(9, 20), SEARCH)
    page(bob, when(10, 2), SEARCH)
    page(bob, when(10, 3), referrer="https://www.google.com/")
    track(bob, "Order Completed", when(10, 3, 12, 10), {"revenue": 50})
    track(bob, "Email Bounced", when(9, 12), autumn)
    page(cy, when(10, 5), referrer="https://www.facebook.com/")
    page(cy, when(10, 5, 12, 3))
    track(dee, "Email Delivered", when(9, 12), autumn)
    track(dee, "Email Opened", when(9, 13), autumn)
    track(dee, "Unsubscribed", when(9, 13, 12, 1), autumn)
    for day, channel, campaign, cost, impressions, clicks in (
        ("2026-09-15", "Paid Search", "brand", "30", "1000", "20"),
        ("2026-10-02", "Paid Search", "brand", "20", "500", "10"),
        ("2026-09-12", "Email", "autumn", "1.50", "", ""),
    ):
        record_cost(
            {
                "date": day,
                "channel": channel,
                "campaign": campaign,
                "cost": cost,
                "impressions": impressions,
                "clicks": clicks,
            }
        )
    return refresh_attribution("purchase", models=["linear", "last_touch"])


def report(**params):
    api = APIClient()
    api.force_authenticate(User.objects.get_or_create(username="reader")[0])
    response = api.get("/api/v1/attribution/reports/channel-performance", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_visits_and_engaged_visits_follow_the_session_rule():
    minute = 60 * 10**9
    # one profile: a view, a Direct view 5 min later (same visit), a conversion 5 min
    # after it; then a view an hour later alone.
    start, engaged = visits(
        profile=np.array([1, 1, 1, 1, 2]),
        at=np.array([0, 5, 10, 70, 0]) * minute,
        conversion=np.array([False, False, True, False, False]),
        channel=np.array([0, 1, 0, 0, 0]),  # 1 is Direct
        direct=1,
    )
    assert start.tolist() == [True, False, False, True, True]
    assert engaged.tolist() == [True, False, False, False, False]


def test_paid_lines_against_hand_counts(campaigns):
    body = report(model="linear")
    assert body["months"] == ["2026-09", "2026-10"]
    brand = next(
        row
        for row in body["by_campaign"]
        if (row["channel"], row["campaign"]) == ("Paid Search", "brand")
    )
    assert brand == {
        "channel": "Paid Search",
        "campaign": "brand",
        "reach": 2,  # ann, bob
        "touchpoints": 3,  # ann 10 Sep, bob 20 Sep and 2 Oct
        "frequency": 1.5,
        "impressions": 1500,
        "clicks": 30,
        "ctr": 0.02,  # 30 / 1,500
        "cost": 50.0,
        "cpc": 1.67,  # 50 / 30
        "cpm": 33.33,  # 50 / 1,500 x 1,000
        "sessions": 3,
        "engaged_sessions": 1,  # ann's two views
        "engagement_rate": 0.3333,
        "post_click_conversions": 2,  # ann's and bob's orders followed a brand click
        "post_click_revenue": 170.0,
        "post_click_rate": 0.0667,  # 2 / 30 clicks
        "session_conversion_rate": 0.6667,  # 2 / 3 visits
        # linear: ann's four touches (brand, the open, the click, the landing page) a
        # quarter each of 120; bob's three (brand twice, organic) a third each of 50.
        "conversions": 0.9167,  # 1/4 + 2/3
        "revenue": 63.33,  # 30 + 33.33
        "cpa": 54.55,  # 50 / (11/12)
        "roas": 1.2666,  # 63.33 / 50 (of the revenue as shown, to the cent)
    }
    october = next(
        row
        for row in body["by_month"]
        if (row["month"], row["channel"], row["campaign"]) == ("2026-10", "Paid Search", "brand")
    )
    assert (october["reach"], october["impressions"], october["clicks"]) == (1, 500, 10)
    assert october["ctr"] == 0.02 and october["cpc"] == 2.0 and october["cpm"] == 40.0
    assert october["post_click_conversions"] == 1 and october["post_click_rate"] == 0.1
    [ppc] = body["sections"]["ppc"]
    assert ppc["campaign"] == "brand"  # paid: the lines with cost (and not email's)
    last = report(model="last_touch")
    brand_last = next(row for row in last["by_campaign"] if row["campaign"] == "brand")
    assert brand_last["conversions"] == 0 and brand_last["cpa"] is None
    assert brand_last["post_click_conversions"] == 2  # the same whatever the model


def test_email_figures_against_hand_counts(campaigns):
    email = report(model="linear")["email"]
    [autumn] = email["campaigns"]
    assert autumn == {
        "campaign": "autumn",
        "delivered": 2,  # ann, dee (bob's bounced)
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 1,
        "bounced": 1,
        "open_rate": 1.0,
        "click_rate": 0.5,
        "click_to_open_rate": 0.5,
        "unsubscribe_rate": 0.5,
        "bounce_rate": 0.3333,  # 1 of 3 sent
        "conversions": 0.25,  # ann's landing page, a quarter under linear
        "revenue": 30.0,
    }
    assert email["total"]["delivered"] == 2 and email["by_month"][0]["month"] == "2026-09"


def test_search_and_social_sections_against_hand_counts(campaigns):
    sections = report(model="linear")["sections"]
    search = {row["channel"]: row for row in sections["search"]}
    organic = search["Organic Search"]
    assert (organic["sessions"], organic["engaged_sessions"], organic["reach"]) == (1, 1, 1)
    assert organic["post_click_conversions"] == 1 and organic["conversions"] == 0.3333
    assert organic["revenue"] == 16.67 and organic["cost"] == 0 and organic["cpa"] is None
    assert search["Paid Search"]["sessions"] == 3
    [social] = sections["social"]
    assert social["channel"] == "Organic Social"
    assert (social["sessions"], social["engaged_sessions"], social["conversions"]) == (1, 1, 0)
    email = next(row for row in report(model="linear")["by_channel"] if row["channel"] == "Email")
    # the open and click of ann and dee's open are touches too: 4 with the landing page
    assert email["touchpoints"] == 4 and email["reach"] == 2 and email["frequency"] == 2.0


def test_a_range_and_its_bad_filters(campaigns):
    october = report(model="linear", start="2026-10", end="2026-10")
    assert october["months"] == ["2026-10"] and october["email"]["campaigns"] == []
    brand = next(row for row in october["by_campaign"] if row["campaign"] == "brand")
    assert brand["reach"] == 1 and brand["cost"] == 20.0
    api = APIClient()
    api.force_authenticate(User.objects.get_or_create(username="reader")[0])
    bad = api.get("/api/v1/attribution/reports/channel-performance", {"start": "autumn"})
    assert bad.status_code == 400 and bad.json()["field"] == "start"


def test_the_overview_shows_the_sections_and_their_csv(analyst, campaigns):
    page = analyst.get("/app/", {"model": "linear"})
    assert page.status_code == 200
    html = page.content.decode()
    for heading in ("PPC", "Email", "Social", "Search"):
        assert f">{heading}</h2>" in html
    rows = parse_csv(analyst.get("/app/", {"model": "linear", "download": "ppc"}))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Campaign"] == "brand" and line["CTR %"] == "2.0" and line["CPA"] == "54.55"
    email = parse_csv(analyst.get("/app/", {"model": "linear", "download": "email"}))
    autumn = dict(zip(email[0], email[1], strict=True))
    assert autumn["Delivered"] == "2" and autumn["Bounce rate %"] == "33.33"


def test_the_demo_prints_the_sections(campaigns):
    lines: list[str] = []
    say_channel_performance(campaigns, lines.append)
    printed = "\n".join(lines)
    assert "PPC (2026-09 to 2026-10, linear):" in printed
    assert "brand" in printed and "CTR  2.00%" in printed and "CPA   54.55" in printed
    assert "delivered      2" in printed and "bounced    1 (33.3%)" in printed
    assert "Organic Social   visits      1 engaged      1" in printed
    refresh_attribution("purchase", models=["markov", "last_touch"])
    lines.clear()
    say_return_on_spend(campaigns.goal.runs.latest("pk"), lines.append)
    # paid: Paid Search and Email (cost 51.50); all revenue 170
    assert "blended MER 3.30 (all revenue 170.00 / all cost)" in "\n".join(lines)
