"""Holdout groups and lift, against hand computation and statsmodels' published figures."""

import numpy as np
import pytest

from attribution.engine.incrementality import holdout_mask, lift

IDS = np.arange(100_000, dtype=np.int64)


def test_the_same_profile_and_experiment_always_get_the_same_answer():
    first = holdout_mask(IDS, "channel:Email", 10)
    assert np.array_equal(first, holdout_mask(IDS.copy(), "channel:Email", 10))
    # Pinned: the draw depends on nothing but (key, id), in any process or release. A
    # change here would silently move profiles in and out of running experiments.
    pinned = holdout_mask(np.arange(20), "channel:Email", 50)
    assert np.flatnonzero(pinned).tolist() == [0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 18]


def test_a_profile_is_in_or_out_whatever_the_order_of_ids():
    order = np.random.default_rng(7).permutation(len(IDS))
    mask = holdout_mask(IDS, "campaign:spring-sale", 20)
    assert np.array_equal(holdout_mask(IDS[order], "campaign:spring-sale", 20), mask[order])
    assert np.array_equal(holdout_mask(IDS[:10], "campaign:spring-sale", 20), mask[:10])


def test_about_percent_of_profiles_are_held_out():
    # Binomial(100 000, 0.1): standard deviation sqrt(0.1 x 0.9 / 100 000) = 0.00095, so
    # 0.005 is over five of them.
    for percent in (1, 10, 50):
        share = holdout_mask(IDS, "channel:Email", percent).mean()
        assert share == pytest.approx(percent / 100, abs=0.005)
    assert not holdout_mask(IDS, "channel:Email", 0).any()
    assert holdout_mask(IDS, "channel:Email", 100).all()


def test_different_experiments_hold_out_independent_groups():
    email = holdout_mask(IDS, "channel:Email", 10)
    sale = holdout_mask(IDS, "campaign:spring-sale", 10)
    assert not np.array_equal(email, sale)
    # Independent draws overlap on about 10% x 10% = 1% of profiles.
    assert (email & sale).mean() == pytest.approx(0.01, abs=0.002)


def test_raising_the_percent_only_adds_profiles_to_the_holdout():
    small = holdout_mask(IDS, "channel:Email", 5)
    large = holdout_mask(IDS, "channel:Email", 10)
    assert not (small & ~large).any()


def test_holdout_rejects_bad_input_naming_the_argument():
    with pytest.raises(ValueError, match="profile_ids"):
        holdout_mask(np.array([1.5, 2.0]), "channel:Email", 10)
    with pytest.raises(ValueError, match="percent"):
        holdout_mask(IDS, "channel:Email", 101)
    with pytest.raises(ValueError, match="key"):
        holdout_mask(IDS, "", 10)


def test_lift_rates_difference_and_incremental_conversions_by_hand():
    result = lift(120, 1000, 80, 1000)
    # 120 / 1000 = 0.12 exposed, 80 / 1000 = 0.08 held out: difference 0.04, relative
    # lift 0.12 / 0.08 - 1 = 0.5, incremental conversions 1000 x 0.04 = 40.
    assert result["exposed_rate"] == 0.12
    assert result["holdout_rate"] == 0.08
    assert result["difference"] == pytest.approx(0.04)
    assert result["relative_lift"] == pytest.approx(0.5)
    assert result["incremental_conversions"] == pytest.approx(40.0)


def test_lift_intervals_and_p_value_are_statsmodels_figures():
    result = lift(120, 1000, 80, 1000)
    # statsmodels 0.15: confint_proportions_2indep(120, 1000, 80, 1000) with
    # compare="diff" (Newcombe) and compare="ratio" (log-adjusted), and
    # test_proportions_2indep (Agresti-Caffo).
    assert result["difference_low"] == pytest.approx(0.0137183138956406)
    assert result["difference_high"] == pytest.approx(0.0664494707100381)
    assert result["relative_lift_low"] == pytest.approx(1.144780697827268 - 1)
    assert result["relative_lift_high"] == pytest.approx(1.9573118927983435 - 1)
    assert result["p_value"] == pytest.approx(0.002934770336639503)
    assert result["incremental_conversions_low"] == pytest.approx(13.71831389564)
    assert result["incremental_conversions_high"] == pytest.approx(66.4494707100381)
    assert result["difference_low"] < result["difference"] < result["difference_high"]
    assert result["relative_lift_low"] < result["relative_lift"] < result["relative_lift_high"]
    assert all(type(v) is float for v in result.values())


def test_lower_confidence_gives_a_narrower_interval():
    wide = lift(120, 1000, 80, 1000, confidence=0.99)
    narrow = lift(120, 1000, 80, 1000, confidence=0.90)
    assert wide["difference_low"] < narrow["difference_low"] < narrow["difference_high"]
    assert narrow["difference_high"] < wide["difference_high"]


def test_relative_lift_is_undefined_without_holdout_conversions():
    result = lift(5, 10, 0, 10)
    assert result["difference"] == 0.5  # 5 / 10 - 0 / 10
    assert result["relative_lift"] is None
    assert result["relative_lift_low"] is None and result["relative_lift_high"] is None
    nothing = lift(0, 10, 0, 10)
    assert nothing["difference"] == 0.0 and nothing["p_value"] == 1.0


@pytest.mark.parametrize(
    "args, name",
    [
        ((-1, 10, 1, 10), "exposed_conversions"),
        ((11, 10, 1, 10), "exposed_conversions"),
        ((1, 0, 1, 10), "exposed_total"),
        ((1, 10, 11, 10), "holdout_conversions"),
        ((1, 10, 0, 0), "holdout_total"),
        ((1, 10, 1.5, 10), "holdout_conversions"),
    ],
)
def test_lift_rejects_impossible_counts_naming_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        lift(*args)


def test_lift_rejects_a_confidence_outside_0_and_1():
    with pytest.raises(ValueError, match="confidence"):
        lift(1, 10, 1, 10, confidence=95)
