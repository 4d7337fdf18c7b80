"""The rule-based models on small journeys, against shares worked out by hand."""

from itertools import pairwise

import numpy as np
import pytest

from attribution.engine.heuristics import (
    MODELS,
    first_touch,
    last_non_direct,
    last_touch,
    linear,
    position_based,
    time_decay,
)
from attribution.engine.journeys import Journeys, channel_totals

DAY = 86_400.0

# Three journeys: A > B > C converting for 100, Direct > Direct converting for 40,
# B > A not converting.
PATHS = [["Email", "Paid Search", "Direct"], ["Direct", "Direct"], ["Paid Search", "Email"]]
JOURNEYS = Journeys.from_paths(
    PATHS,
    converted=[True, True, False],
    value=[100.0, 40.0, 0.0],
    ages=[[10 * DAY, 3 * DAY, 0.0], [2 * DAY, DAY], [5 * DAY, DAY]],
)


def by_journey(shares):
    return [list(np.round(shares[a:b], 6)) for a, b in pairwise(JOURNEYS.offsets)]


def test_first_and_last_touch():
    assert by_journey(first_touch(JOURNEYS)) == [[1, 0, 0], [1, 0], [0, 0]]
    assert by_journey(last_touch(JOURNEYS)) == [[0, 0, 1], [0, 1], [0, 0]]


def test_last_non_direct_skips_direct_unless_there_is_nothing_else():
    assert by_journey(last_non_direct(JOURNEYS)) == [[0, 1, 0], [0, 1], [0, 0]]


def test_linear_splits_evenly():
    third = round(1 / 3, 6)
    assert by_journey(linear(JOURNEYS)) == [[third, third, third], [0.5, 0.5], [0, 0]]


def test_time_decay_halves_the_weight_every_half_life():
    shares = time_decay(JOURNEYS, half_life_days=7)
    # Journey 1: ages 10, 3 and 0 days -> weights 2^(-10/7), 2^(-3/7), 1.
    weights = np.array([2 ** (-10 / 7), 2 ** (-3 / 7), 1.0])
    assert shares[:3] == pytest.approx(weights / weights.sum(), abs=1e-12)
    # Journey 2: ages 2 and 1 days -> 2^(-1/7) : 1 relative to the youngest.
    assert shares[3:5] == pytest.approx(np.array([2 ** (-1 / 7), 1]) / (2 ** (-1 / 7) + 1))
    assert time_decay(JOURNEYS, half_life_days=1)[3] == pytest.approx(1 / 3)


def test_position_based_40_20_40_with_the_one_and_two_touch_rules():
    one = Journeys.from_paths([["Email"]])
    four = Journeys.from_paths([["Email", "Display", "Affiliates", "Direct"]])
    assert by_journey(position_based(JOURNEYS)) == [[0.4, 0.2, 0.4], [0.5, 0.5], [0, 0]]
    assert list(position_based(one)) == [1.0]
    assert list(np.round(position_based(four), 6)) == [0.4, 0.1, 0.1, 0.4]
    assert list(np.round(position_based(four, first=0.3, last=0.5), 6)) == [0.3, 0.1, 0.1, 0.5]
    with pytest.raises(ValueError, match="sum to at most 1"):
        position_based(four, first=0.7, last=0.5)


def test_linear_credit_per_channel_in_conversions_and_value():
    conversions, value = channel_totals(JOURNEYS, linear(JOURNEYS))
    totals = dict(zip(JOURNEYS.channels, zip(conversions, value, strict=True), strict=True))
    assert totals["Direct"] == pytest.approx((1 / 3 + 1, 100 / 3 + 40))
    assert totals["Email"] == pytest.approx((1 / 3, 100 / 3))
    assert totals["Paid Search"] == pytest.approx((1 / 3, 100 / 3))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_credits_exactly_each_conversion_and_its_value(name):
    rng = np.random.default_rng(0)
    channels = ["Direct", "Email", "Paid Search", "Display", "Organic Search"]
    paths = [list(rng.choice(channels, size=rng.integers(1, 8))) for _ in range(3_000)]
    converted = rng.random(3_000) < 0.3
    value = rng.gamma(2.0, 40.0, 3_000)
    ages = [sorted(rng.uniform(0, 30 * DAY, len(p)), reverse=True) for p in paths]
    journeys = Journeys.from_paths(paths, converted=converted, value=value, ages=ages)

    shares = MODELS[name](journeys)

    sums = np.add.reduceat(shares, journeys.offsets[:-1])
    assert sums[converted] == pytest.approx(1.0, abs=1e-12)
    assert np.all(sums[~converted] == 0) and np.all(shares >= 0)
    conversions, credited = channel_totals(journeys, shares)
    assert conversions.sum() == pytest.approx(converted.sum())
    assert credited.sum() == pytest.approx(value[converted].sum())


def test_a_conversion_without_any_touch_is_refused():
    journeys = Journeys.from_paths([[], ["Email"]], converted=[True, True])
    with pytest.raises(ValueError) as refused:
        linear(journeys)
    assert str(refused.value) == (
        "1 converting journeys have no touch; give each at least one "
        "(a conversion with no marketing contact is a Direct touch)"
    )


def test_time_decay_default_half_life_is_seven_days():
    two = Journeys.from_paths([["Email", "Direct"]], ages=[[7 * DAY, 0.0]])
    assert list(np.round(time_decay(two), 6)) == [round(1 / 3, 6), round(2 / 3, 6)]


def test_time_decay_of_an_old_journey_does_not_underflow():
    # Three years before today with a one-day half-life: 2^-1095 is below the smallest
    # double, so the weights must be taken relative to the journey's youngest touch.
    old = Journeys.from_paths([["Email", "Direct"]], ages=[[1_096 * DAY, 1_095 * DAY]])
    assert list(np.round(time_decay(old, half_life_days=1), 6)) == [
        round(1 / 3, 6),
        round(2 / 3, 6),
    ]
    with pytest.raises(ValueError) as refused:
        time_decay(old, half_life_days=0)
    assert str(refused.value) == "half_life_days must be positive"


def test_position_based_two_touches_split_evenly_whatever_the_weights():
    two = Journeys.from_paths([["Email", "Direct"]])
    assert list(position_based(two, first=0.6, last=0.2)) == [0.5, 0.5]
    one = Journeys.from_paths([["Email"]])
    assert list(position_based(one, first=0.0, last=0.0)) == [1.0]
    # The weights may take everything: nothing is left for the middle touches.
    four = Journeys.from_paths([["Email", "Display", "Affiliates", "Direct"]])
    assert list(position_based(four, first=0.5, last=0.5)) == [0.5, 0.0, 0.0, 0.5]


@pytest.mark.parametrize(("first", "last"), [(-0.1, 0.4), (0.4, -0.1)])
def test_position_based_refuses_a_negative_weight(first, last):
    with pytest.raises(ValueError) as refused:
        position_based(JOURNEYS, first=first, last=last)
    assert str(refused.value) == "first and last must be non-negative and sum to at most 1"


def test_position_based_counts_positions_from_each_journeys_own_first_touch():
    # Two journeys of three and more touches: the second's first and last touches are
    # found from its own start, not from the first journey's.
    journeys = Journeys.from_paths(
        [["Email", "Display", "Direct"], ["Display", "Email", "Affiliates", "Direct"]]
    )
    assert list(np.round(position_based(journeys), 6)) == [0.4, 0.2, 0.4, 0.4, 0.1, 0.1, 0.4]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_journey_without_touches_that_did_not_convert_takes_nothing(name):
    # An anonymous visitor's empty journey, first, last, and right after a journey whose
    # last touch is Direct (an empty journey "ends" where the one before it ends): nothing
    # changes.
    with_empty = Journeys.from_paths(
        [[], PATHS[0], [], PATHS[1], PATHS[2], []],
        converted=[False, True, False, True, False, False],
        value=[0.0, 100.0, 0.0, 40.0, 0.0, 0.0],
        ages=[[], [10 * DAY, 3 * DAY, 0.0], [], [2 * DAY, DAY], [5 * DAY, DAY], []],
    )
    assert list(MODELS[name](with_empty)) == list(MODELS[name](JOURNEYS))


def test_last_non_direct_is_last_touch_where_there_is_no_direct_channel():
    paths = [["Email", "Paid Search"], ["Display"]]
    journeys = Journeys.from_paths(paths, converted=[True, True])
    assert list(last_non_direct(journeys)) == list(last_touch(journeys)) == [0.0, 1.0, 1.0]


def test_last_non_direct_credits_a_first_touch_before_direct_ones():
    journeys = Journeys.from_paths([["Email", "Direct", "Direct"]])
    assert list(last_non_direct(journeys)) == [1.0, 0.0, 0.0]
