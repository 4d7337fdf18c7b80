"""Budget advice on histories whose response curves are known exactly."""

import numpy as np
import pytest

from attribution.engine.budget import advise

DAYS = 30
# Email alternates 50 and 150 a day (3 000 in all), Search 150 and 250 (6 000): shares
# 1/3 and 2/3 of 9 000.
EMAIL_SPEND = np.tile([50.0, 150.0], DAYS // 2)
SEARCH_SPEND = np.tile([150.0, 250.0], DAYS // 2)
SPEND = np.column_stack([EMAIL_SPEND, SEARCH_SPEND])


def rows_by_channel(rows):
    return {row["channel"]: row for row in rows}


def test_money_moves_to_the_higher_marginal_roas_by_exactly_the_guardrail():
    # Email returns 4 per unit spent, Search 1 (a = 4 and 1, b = 1 exactly).
    revenue = np.column_stack([4 * EMAIL_SPEND, 1 * SEARCH_SPEND])
    rows = rows_by_channel(advise(["Email", "Search"], SPEND, revenue))
    email, search = rows["Email"], rows["Search"]
    assert email["current_share"] == pytest.approx(1 / 3)
    assert email["proposed_share"] == pytest.approx(1 / 3 + 0.06, abs=1e-9)
    assert search["proposed_share"] == pytest.approx(2 / 3 - 0.06, abs=1e-9)
    assert email["change_points"] == pytest.approx(6.0, abs=1e-7)
    assert search["change_points"] == pytest.approx(-6.0, abs=1e-7)
    assert email["guardrail_points"] == 6.0
    assert email["elasticity"] == pytest.approx(1.0) and email["curve_fitted"]
    assert email["marginal_roas"] == pytest.approx(4.0)
    assert search["marginal_roas"] == pytest.approx(1.0)
    # Budget 9 000 over 30 days = 300 a day. Current: Email 30 x 4 x 100 = 12 000,
    # Search 30 x 1 x 200 = 6 000. Proposed: Email 30 x 4 x (0.39333 x 300 = 118) =
    # 14 160, Search 30 x 1 x 182 = 5 460; effects +2 160 and -540.
    assert email["expected_revenue_current"] == pytest.approx(12_000)
    assert search["expected_revenue_current"] == pytest.approx(6_000)
    assert email["expected_revenue_proposed"] == pytest.approx(14_160)
    assert search["expected_revenue_proposed"] == pytest.approx(5_460)
    assert email["expected_effect"] == pytest.approx(2_160)
    assert search["expected_effect"] == pytest.approx(-540)


def test_shares_sum_to_one_and_stay_within_the_guardrail():
    rng = np.random.default_rng(3)
    spend = rng.uniform(20, 200, size=(60, 4))
    revenue = np.array([6.0, 3.0, 2.0, 1.0]) * spend**0.7 * rng.lognormal(0, 0.1, spend.shape)
    rows = advise(["A", "B", "C", "D"], spend, revenue, guardrail=0.05)
    assert sum(row["proposed_share"] for row in rows) == pytest.approx(1.0)
    assert all(abs(row["change_points"]) <= 5.0 + 1e-6 for row in rows)
    assert all(row["proposed_share"] >= 0 for row in rows)
    assert sum(row["expected_effect"] for row in rows) >= 0
    # The channel with the best returns gains, the worst loses.
    assert rows[0]["change_points"] > 0 > rows[3]["change_points"]


def test_without_a_binding_guardrail_marginal_returns_are_equalised():
    # revenue = 2 sqrt(spend) and sqrt(spend): maximising 2 sqrt(s1 D) + sqrt(s2 D) with
    # s1 + s2 = 1 gives s1 : s2 = 2^2 : 1^2, so 0.8 and 0.2 whatever the budget D.
    revenue = np.column_stack([2 * np.sqrt(EMAIL_SPEND), np.sqrt(SEARCH_SPEND)])
    rows = advise(["Email", "Search"], SPEND, revenue, guardrail=1.0, budget=18_000)
    assert rows[0]["elasticity"] == pytest.approx(0.5)
    assert rows[0]["proposed_share"] == pytest.approx(0.8, abs=1e-5)
    assert rows[1]["proposed_share"] == pytest.approx(0.2, abs=1e-5)
    # Budget 18 000 = 600 a day; current Email 200 a day: 30 x 2 sqrt(200).
    assert rows[0]["expected_revenue_current"] == pytest.approx(30 * 2 * np.sqrt(200))
    assert rows[0]["expected_revenue_proposed"] == pytest.approx(30 * 2 * np.sqrt(480), rel=1e-5)


def test_a_short_history_uses_the_default_curve_through_the_mean_roas():
    # Three days of 100 spend and 300 revenue: ROAS 3, b = 0.5, a = 3 x 100^0.5 = 30.
    spend = np.array([[100.0, 100.0], [100.0, 100.0], [100.0, 100.0]])
    revenue = np.array([[300.0, 100.0], [300.0, 100.0], [300.0, 100.0]])
    rows = rows_by_channel(advise(["Email", "Search"], spend, revenue))
    email = rows["Email"]
    assert not email["curve_fitted"] and email["elasticity"] == 0.5
    # Marginal ROAS a b x^(b - 1) = 30 x 0.5 / sqrt(100) = 1.5; over 3 days the curve
    # gives back the history: 3 x 30 x sqrt(100) = 900.
    assert email["marginal_roas"] == pytest.approx(1.5)
    assert email["expected_revenue_current"] == pytest.approx(900)
    assert email["proposed_share"] == pytest.approx(0.56, abs=1e-7)


def test_a_channel_that_never_spent_stays_at_zero():
    spend = np.column_stack([SPEND, np.zeros(DAYS)])
    revenue = np.column_stack([4 * EMAIL_SPEND, SEARCH_SPEND, np.zeros(DAYS)])
    rows = rows_by_channel(advise(["Email", "Search", "Social"], spend, revenue))
    assert rows["Social"]["current_share"] == 0.0
    assert rows["Social"]["proposed_share"] == 0.0
    assert rows["Social"]["marginal_roas"] is None
    assert rows["Email"]["proposed_share"] == pytest.approx(1 / 3 + 0.06, abs=1e-9)


def test_a_bigger_budget_scales_expected_revenue_of_linear_channels():
    revenue = np.column_stack([4 * EMAIL_SPEND, 1 * SEARCH_SPEND])
    rows = advise(["Email", "Search"], SPEND, revenue, budget=18_000)
    assert rows[0]["expected_revenue_current"] == pytest.approx(24_000)  # 30 x 4 x 200


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"spend": np.ones((DAYS, 3))}, "spend"),
        ({"spend": -SPEND}, "spend"),
        ({"revenue": np.ones((DAYS, 3))}, "revenue"),
        ({"spend": np.zeros((DAYS, 2))}, "spend"),
        ({"budget": -1.0}, "budget"),
        ({"guardrail": -0.1}, "guardrail"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(kwargs, name):
    arguments = {"spend": SPEND, "revenue": SPEND, **kwargs}
    with pytest.raises(ValueError, match=name):
        advise(["Email", "Search"], arguments.pop("spend"), arguments.pop("revenue"), **arguments)
