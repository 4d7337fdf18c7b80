"""The funnel, budget and holdout reports against figures worked out by hand on small
fixtures (issue 20): on the pages, in the API and in the CSVs — not only "the page
equals the API", which both read from the same stored run and would agree on a wrong
figure."""

import math
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from attribution.services import record_cost, refresh_attribution
from cdp.models import Profile
from consent.selectors import profile_by_identifier
from tests.attribution.conftest import parse_csv
from tests.factories import HoldoutFactory, report_reader

SEARCH = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
DISPLAY = {"campaign": {"source": "gdn", "medium": "display", "name": "retarget"}}
EMAIL = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}
DAY = datetime(2026, 9, 10, 12, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def api_report(name, **params):
    api = APIClient()
    api.force_authenticate(report_reader("reader"))
    response = api.get(f"/api/v1/attribution/reports/{name}", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def buy(deliver, user, at, revenue):
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": user,
            "timestamp": iso(at),
            "properties": {"revenue": revenue},
        }
    )


# --- the funnel -------------------------------------------------------------------------


@pytest.fixture
def shoppers_at_each_stage(deliver):
    """The default stages (awareness: views and email opens; interest: Product Viewed;
    consideration: Product Added; decision: Order Completed).
    p1 views a page; p2 views a page and a product; p3 views, views a product, adds it
    and buys for 40; p4 only adds a product (so passed awareness and interest too);
    p5 views a product only."""
    for user, events in (
        ("p1", ["page"]),
        ("p2", ["page", "Product Viewed"]),
        ("p3", ["page", "Product Viewed", "Product Added"]),
        ("p4", ["Product Added"]),
        ("p5", ["Product Viewed"]),
    ):
        for n, event in enumerate(events):
            at = iso(DAY + timedelta(minutes=n))
            if event == "page":
                deliver({"type": "page", "userId": user, "timestamp": at})
            else:
                deliver({"type": "track", "event": event, "userId": user, "timestamp": at})
    buy(deliver, "p3", DAY + timedelta(minutes=10), 40)
    return refresh_attribution("purchase", models=["linear"])


def test_the_funnel_counts_what_each_profile_reached(analyst, shoppers_at_each_stage):
    # reached: awareness p1-p5 (5), interest p2-p5 (4), consideration p3, p4 (2),
    # decision p3 (1); conversion from the stage before 4/5, 2/4, 1/2
    expected = [
        ("awareness", 5, None, 1.0),
        ("interest", 4, 0.8, 0.8),
        ("consideration", 2, 0.5, 0.4),
        ("decision", 1, 0.5, 0.2),
    ]
    funnel = api_report("funnel")
    assert [
        (row["stage"], row["profiles"], row["conversion_rate"], row["share_of_first"])
        for row in funnel
    ] == expected
    assert [row["drop_off"] for row in funnel] == [None, pytest.approx(0.2), 0.5, 0.5]
    page = analyst.get("/app/journeys/")
    assert [row[:2] for row in page.context["tables"]["funnel"].rows] == [
        [stage, profiles] for stage, profiles, _, _ in expected
    ]
    rows = parse_csv(analyst.get("/app/journeys/", {"download": "funnel"}))
    assert [row[:2] for row in rows[1:]] == [[s, str(p)] for s, p, _, _ in expected]


# --- budget moves -----------------------------------------------------------------------


@pytest.fixture
def two_paid_channels(deliver):
    """Paid Search and Display each cost 10 a day on 9 and 10 September. On each of
    those days one buyer came from paid search and bought for 100, another from display
    and bought for 10: ROAS 10 against 1."""
    for n, day in enumerate((DAY - timedelta(days=1), DAY)):
        for channel, context, revenue in (("s", SEARCH, 100), ("d", DISPLAY, 10)):
            user = f"{channel}{n}"
            deliver({"type": "page", "userId": user, "timestamp": iso(day), "context": context})
            buy(deliver, user, day + timedelta(minutes=5), revenue)
        for channel in ("Paid Search", "Display"):
            record_cost({"date": day.date().isoformat(), "channel": channel, "cost": "10"})
    return refresh_attribution("purchase", models=["linear", "last_touch"])


def test_budget_moves_the_guardrail_toward_the_higher_return(analyst, two_paid_channels):
    """Two days are too few to fit a curve: each is assumed revenue = a x spend^0.5
    through its mean ROAS, so the best split puts shares in proportion to a squared
    (100 to 1): far beyond the guardrail, which stops it at 6 points. Of the 40 spent:
    Paid Search 20 -> 22.40, Display 20 -> 17.60."""
    advice = {row["channel"]: row for row in api_report("budget", model="linear")}
    search, display = advice["Paid Search"], advice["Display"]
    assert search["current_share"] == pytest.approx(0.5) == display["current_share"]
    assert search["proposed_share"] == pytest.approx(0.56, abs=1e-6)
    assert display["proposed_share"] == pytest.approx(0.44, abs=1e-6)
    assert search["change_points"] == pytest.approx(6.0, abs=1e-4)
    assert search["current_budget"] == pytest.approx(20.0)
    assert search["proposed_budget"] == pytest.approx(22.4, abs=1e-4)
    assert display["proposed_budget"] == pytest.approx(17.6, abs=1e-4)
    assert search["curve"] == "assumed" and display["curve"] == "assumed"
    # a = ROAS x sqrt(daily spend): 10 x sqrt(10) and 1 x sqrt(10); revenue now and after,
    # per day: a x sqrt(spend per day)
    now = 2 * (10 * math.sqrt(10) * math.sqrt(10) + math.sqrt(10) * math.sqrt(10))
    after = 2 * (10 * math.sqrt(10) * math.sqrt(11.2) + math.sqrt(10) * math.sqrt(8.8))
    total_now = search["expected_revenue_current"] + display["expected_revenue_current"]
    total_after = search["expected_revenue_proposed"] + display["expected_revenue_proposed"]
    assert total_now == pytest.approx(now, rel=1e-6)  # 220: the revenue credited
    assert total_after == pytest.approx(after, rel=1e-6)
    rows = parse_csv(analyst.get("/app/attribution/", {"model": "linear", "download": "budget"}))
    shown = {row[0]: row for row in rows[1:]}
    assert shown["Paid Search"][1:4] == ["50.0", "56.0", "6.0"]
    assert shown["Display"][1:4] == ["50.0", "44.0", "-6.0"]


# --- holdouts ---------------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def held_out_by_hand(profile_id: int, key: str, percent: float) -> bool:
    """The documented definition, in plain integers: h = splitmix64(splitmix64(id) XOR
    blake2b-64(key)), held out when its top 53 bits / 2^53 < percent / 100."""
    import hashlib

    salt = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    h = _splitmix64(_splitmix64(profile_id) ^ salt)
    return (h >> 11) * 2.0**-53 < percent / 100


def wilson(successes: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
    return centre - half, centre + half


@pytest.fixture
def email_audience(deliver):
    """Sixteen signed-in profiles open an email (Email channel) on 10 September; the
    first ten of them buy for 20 the day after. Half of the Email channel's audience is
    held out from 1 September."""
    for n in range(16):
        user = f"u{n}"
        deliver({"type": "page", "userId": user, "timestamp": iso(DAY), "context": EMAIL})
        if n < 10:
            buy(deliver, user, DAY + timedelta(days=1), 20)
    HoldoutFactory(percent=50.0, started_at=datetime(2026, 9, 1, tzinfo=UTC), ended_at=None)
    return refresh_attribution("purchase", models=["linear", "markov"])


def test_holdout_counts_and_interval_worked_out_by_hand(analyst, email_audience):
    ids = [profile_by_identifier(f"user_id:u{n}").pk for n in range(16)]
    held = {pk for pk in ids if held_out_by_hand(pk, "channel:Email", 50.0)}
    buyers = {profile_by_identifier(f"user_id:u{n}").pk for n in range(10)}
    assert 0 < len(held) < 16  # someone is held out, and someone is not
    assert Profile.objects.filter(merged_into=None).count() == 16
    [row] = api_report("holdouts")
    exposed, out = 16 - len(held), len(held)
    bought_exposed, bought_out = len(buyers - held), len(buyers & held)
    assert (row["exposed_profiles"], row["holdout_profiles"]) == (exposed, out)
    assert (row["exposed_conversions"], row["holdout_conversions"]) == (bought_exposed, bought_out)
    p_e, p_h = bought_exposed / exposed, bought_out / out
    assert row["difference"] == pytest.approx(p_e - p_h)
    # Newcombe's hybrid score interval from the two Wilson intervals
    l_e, u_e = wilson(bought_exposed, exposed)
    l_h, u_h = wilson(bought_out, out)
    low = p_e - p_h - math.sqrt((p_e - l_e) ** 2 + (u_h - p_h) ** 2)
    high = p_e - p_h + math.sqrt((u_e - p_e) ** 2 + (p_h - l_h) ** 2)
    assert row["difference_low"] == pytest.approx(low, abs=1e-9)
    assert row["difference_high"] == pytest.approx(high, abs=1e-9)
    assert row["incremental_conversions"] == pytest.approx((p_e - p_h) * exposed)
    rows = parse_csv(analyst.get("/app/attribution/", {"download": "holdouts"}))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["Exposed profiles"], line["Held-out profiles"]) == (str(exposed), str(out))
    assert float(line["Lift low"]) == pytest.approx(round(low * 100, 3))
    assert float(line["Lift high"]) == pytest.approx(round(high * 100, 3))
