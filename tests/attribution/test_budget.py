"""Budget advice on histories whose response curves are known exactly."""

import math

import numpy as np
import pytest

from attribution.engine.budget import advise, budget_advice

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


def test_never_moves_money_to_a_channel_without_spend():
    # Social cost nothing and "earned" a fortune: owned, so context, never budget.
    spend = np.column_stack([SPEND, np.zeros(DAYS)])
    revenue = np.column_stack([4 * EMAIL_SPEND, SEARCH_SPEND, np.full(DAYS, 1_000.0)])

    advice = budget_advice(["Email", "Search", "Social"], spend, revenue, budget=12_000)

    assert [row["channel"] for row in advice.rows] == ["Email", "Search"]
    assert advice.context == [
        {
            "channel": "Social",
            "revenue": 30_000.0,
            "reason": "no spend in the history: not reallocated",
        }
    ]
    assert [row["channel"] for row in advise(["Email", "Search", "Social"], spend, revenue)] == [
        "Email",
        "Search",
    ]
    email, search = advice.rows
    assert email["proposed_share"] == pytest.approx(1 / 3 + 0.06, abs=1e-9)
    # Money: 12 000 x (1/3 + 0.06) = 4 720 and 12 000 x (2/3 - 0.06) = 7 280.
    assert email["proposed_budget"] == pytest.approx(4_720, abs=1e-5)
    assert search["proposed_budget"] == pytest.approx(7_280, abs=1e-5)
    assert email["current_budget"] == pytest.approx(4_000)
    assert email["change_budget"] == pytest.approx(720, abs=1e-5)
    assert email["spend_history"] == 3_000.0


def test_proposed_money_sums_to_the_budget():
    rng = np.random.default_rng(5)
    spend = rng.uniform(20, 200, size=(45, 5))
    spend[:, 4] = 0.0  # an owned channel
    revenue = np.array([5.0, 3.0, 2.0, 1.5, 0.0]) * spend**0.6 * rng.lognormal(0, 0.2, spend.shape)

    advice = budget_advice(list("ABCDE"), spend, revenue, budget=25_000.0, guardrail=0.1)

    assert sum(row["proposed_budget"] for row in advice.rows) == pytest.approx(25_000.0)
    assert sum(row["current_budget"] for row in advice.rows) == pytest.approx(25_000.0)
    assert sum(row["change_budget"] for row in advice.rows) == pytest.approx(0.0, abs=1e-6)
    for row in advice.rows:
        assert row["proposed_budget"] == pytest.approx(row["proposed_share"] * 25_000.0)
    assert advice.budget == 25_000.0 and advice.days == 45
    assert advice.expected_effect == pytest.approx(sum(r["expected_effect"] for r in advice.rows))
    assert [row["channel"] for row in advice.context] == ["E"]


def test_an_elasticity_below_the_range_is_assumed_with_its_interval_by_hand():
    # Display: 6 days at 100 and 400 a day, 1 000 revenue every day: the fitted slope is 0,
    # below 0.05, so b = 0.05 is assumed and only the level is estimated from the days:
    #   log a = mean(log 1000 - 0.05 log spend) = log 1000 - 0.05 log 200
    #   residuals +-0.05 log 2 (half the days each): variance 6 (0.05 log 2)^2 / 5,
    #   so the level's variance is that / 6 = 0.2 (0.05 log 2)^2.
    # Search: revenue 4 x spend exactly (b = 1, fitted, no residual: no uncertainty).
    display_spend = np.tile([100.0, 400.0], 3)
    search_spend = np.tile([100.0, 300.0], 3)
    spend = np.column_stack([display_spend, search_spend])
    revenue = np.column_stack([np.full(6, 1_000.0), 4 * search_spend])

    advice = budget_advice(["Display", "Search"], spend, revenue)

    display, search = advice.rows
    assert display["curve"] == "assumed" and not display["curve_fitted"]
    assert "below the range 0.05-1; 0.05 assumed" in display["curve_reason"]
    assert display["elasticity"] == 0.05
    assert search["curve"] == "fitted" and search["curve_reason"] is None
    assert search["elasticity"] == pytest.approx(1.0)
    # Budget 2 700 over 6 days = 450 a day; Display's share 1 500 / 2 700 = 5/9 loses the
    # full 6 points: 250 -> 223 a day.
    assert display["proposed_share"] == pytest.approx(5 / 9 - 0.06, abs=1e-9)
    a = 1_000 / 200**0.05
    effect = 6 * a * (223**0.05 - 250**0.05)
    assert display["expected_effect"] == pytest.approx(effect, rel=1e-6)
    # d effect / d log a = effect; b is taken as known.
    half_width = 1.959963984540054 * abs(effect) * math.sqrt(0.2) * 0.05 * math.log(2)
    assert display["effect_low"] == pytest.approx(effect - half_width, rel=1e-6)
    assert display["effect_high"] == pytest.approx(effect + half_width, rel=1e-6)
    assert search["effect_low"] == pytest.approx(search["expected_effect"], abs=1e-6)
    assert search["effect_high"] == pytest.approx(search["expected_effect"], abs=1e-6)
    low, high = advice.effect_interval
    assert low == pytest.approx(advice.expected_effect - half_width, rel=1e-6)
    assert high == pytest.approx(advice.expected_effect + half_width, rel=1e-6)


def test_an_elasticity_above_the_range_is_assumed_at_the_bound():
    # Revenue grows with the square of spend: increasing returns, b = 1 assumed.
    spend = np.column_stack([SEARCH_SPEND, EMAIL_SPEND])
    revenue = np.column_stack([0.01 * SEARCH_SPEND**2, 2 * EMAIL_SPEND])

    rows = rows_by_channel(advise(["Search", "Email"], spend, revenue))

    assert rows["Search"]["curve"] == "assumed"
    assert (
        rows["Search"]["curve_reason"] == "fitted elasticity 2 is above the range 0.05-1; 1 assumed"
    )
    assert rows["Search"]["elasticity"] == 1.0
    assert rows["Email"]["curve"] == "fitted"


def test_a_history_without_variation_or_days_is_assumed_and_says_why():
    spend = np.column_stack([np.full(8, 100.0), np.tile([50.0, 150.0], 4), SEARCH_SPEND[:8]])
    revenue = np.column_stack(
        [np.full(8, 300.0), np.tile([200.0, 400.0], 4), [90.0, 0, 0, 0, 0, 0, 0, 80.0]]
    )

    rows = rows_by_channel(advise(["Flat", "Varied", "Sparse"], spend, revenue))

    assert rows["Flat"]["curve"] == "assumed"
    assert rows["Flat"]["curve_reason"] == "spend never varied; elasticity 0.5 assumed"
    assert rows["Sparse"]["curve_reason"] == (
        "only 2 days with both spend and revenue (a fit needs 5); elasticity 0.5 assumed"
    )
    assert rows["Sparse"]["days_fitted"] == 2
    assert rows["Varied"]["curve"] == "fitted" and rows["Varied"]["days_fitted"] == 8


def test_the_interval_of_a_fitted_curve_is_the_delta_method_on_the_ols_fit():
    rng = np.random.default_rng(11)
    spend = rng.uniform(50, 300, size=(40, 2))
    revenue = np.array([3.0, 1.0]) * spend**0.6 * rng.lognormal(0, 0.15, spend.shape)

    advice = budget_advice(["A", "B"], spend, revenue, guardrail=0.1)

    total_variance = 0.0
    daily = spend.sum() / 40
    for i, row in enumerate(advice.rows):
        assert row["curve"] == "fitted"
        # Least squares by the textbook formulas.
        x, y = np.log(spend[:, i]), np.log(revenue[:, i])
        sxx = np.sum((x - x.mean()) ** 2)
        b = np.sum((x - x.mean()) * (y - y.mean())) / sxx
        log_a = y.mean() - b * x.mean()
        s2 = np.sum((y - log_a - b * x) ** 2) / (40 - 2)
        covariance = s2 * np.array(
            [[1 / 40 + x.mean() ** 2 / sxx, -x.mean() / sxx], [-x.mean() / sxx, 1 / sxx]]
        )
        assert row["elasticity"] == pytest.approx(b)
        now, then = row["current_share"] * daily, row["proposed_share"] * daily
        a = math.exp(log_a)
        effect = 40 * a * (then**b - now**b)
        gradient = np.array([effect, 40 * a * (then**b * math.log(then) - now**b * math.log(now))])
        variance = gradient @ covariance @ gradient
        total_variance += variance
        assert row["expected_effect"] == pytest.approx(effect, rel=1e-9)
        assert row["effect_low"] == pytest.approx(effect - 1.959963984540054 * variance**0.5)
        assert row["effect_high"] == pytest.approx(effect + 1.959963984540054 * variance**0.5)
        assert row["effect_low"] <= row["expected_effect"] <= row["effect_high"]
    low, high = advice.effect_interval
    assert low < advice.expected_effect < high
    assert high - advice.expected_effect == pytest.approx(1.959963984540054 * total_variance**0.5)


def test_a_channel_with_one_usable_day_has_no_interval_and_is_named():
    spend = np.column_stack([SPEND, np.full(DAYS, 10.0)])
    revenue = np.column_stack([4 * EMAIL_SPEND, SEARCH_SPEND, np.r_[50.0, np.zeros(DAYS - 1)]])

    advice = budget_advice(["Email", "Search", "Push"], spend, revenue)

    push = rows_by_channel(advice.rows)["Push"]
    assert push["curve"] == "assumed" and push["effect_low"] is None
    assert push["effect_high"] is None
    assert advice.interval_note.endswith("without Push (fewer than 2 days to say how uncertain)")
    low, high = advice.effect_interval
    assert low <= advice.expected_effect <= high


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
