"""Markov chain removal-effect attribution, checked against chains solved by hand."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.engine import markov
from attribution.engine.journeys import Journeys, channel_totals
from attribution.engine.markov import conversion_probability, markov_shares, removal_effects

# Four journeys over channels A, B, C:
#   A > B  converted        A > C  not converted
#   B      converted        C > A  converted
#
# Order-1 transition counts and probabilities (rows sum to 1):
#   START -> A 2, B 1, C 1        START -> A 1/2, B 1/4, C 1/4
#   A -> B 1, C 1, CONVERSION 1   A -> B 1/3, C 1/3, CONVERSION 1/3
#   B -> CONVERSION 2             B -> CONVERSION 1
#   C -> A 1, NULL 1              C -> A 1/2, NULL 1/2
#
# Conversion probability x_s from each state, (I - Q) x = r:
#   x_B = 1;  x_C = x_A / 2;  x_A = x_B / 3 + x_C / 3 + 1/3 = 2/3 + x_A / 6
#   => x_A = 4/5, x_C = 2/5, P = 1/2 * 4/5 + 1/4 * 1 + 1/4 * 2/5 = 3/4
# Without A (x_A = 0): x_B = 1, x_C = 0             => P = 1/4,  RE(A) = 1 - 1/3 = 2/3
# Without B (x_B = 0): x_A = 1/3 + x_A / 6 => 2/5,
#                      x_C = 1/5                    => P = 1/5 + 1/20 = 1/4, RE(B) = 2/3
# Without C (x_C = 0): x_A = 2/3, x_B = 1           => P = 1/3 + 1/4 = 7/12, RE(C) = 2/9
# Weights: RE / (2/3 + 2/3 + 2/9 = 14/9) => A 3/7, B 3/7, C 1/7.
HAND_PATHS = [["A", "B"], ["A", "C"], ["B"], ["C", "A"]]
HAND_CONVERTED = [True, False, True, True]
HAND_EFFECTS = {"A": F(2, 3), "B": F(2, 3), "C": F(2, 9)}


def hand_journeys() -> Journeys:
    return Journeys.from_paths(HAND_PATHS, converted=HAND_CONVERTED, value=[10, 0, 20, 40])


def random_journeys(seed: int = 0, *, n: int = 2_000, n_channels: int = 5) -> Journeys:
    """Journeys of 1 to 6 touches whose conversion depends on the last channel, so the
    channels differ in removal effect."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    touches = rng.integers(0, n_channels, size=offsets[-1]).astype(np.int32)
    last = touches[offsets[1:] - 1]
    converted = rng.random(n) < (last + 1) / (n_channels + 2)
    value = np.where(converted, rng.uniform(1, 500, size=n), 0.0)
    ages = rng.uniform(0, 30 * 86_400, size=offsets[-1])
    channels = tuple(f"channel_{i}" for i in range(n_channels))
    return Journeys(channels, offsets, touches, ages, converted, value)


def per_journey(journeys: Journeys, shares: np.ndarray) -> np.ndarray:
    return np.bincount(journeys.journey_of_touch(), weights=shares, minlength=journeys.count)


def test_removal_effects_match_the_hand_solved_chain():
    effects = removal_effects(hand_journeys())

    assert effects == {
        name: pytest.approx(float(value), abs=1e-12) for name, value in HAND_EFFECTS.items()
    }


def test_conversion_probability_matches_the_hand_solved_chain():
    journeys = hand_journeys()

    assert conversion_probability(journeys) == pytest.approx(3 / 4, abs=1e-12)
    assert conversion_probability(journeys, removed="A") == pytest.approx(1 / 4, abs=1e-12)
    assert conversion_probability(journeys, removed="B") == pytest.approx(1 / 4, abs=1e-12)
    assert conversion_probability(journeys, removed="C") == pytest.approx(7 / 12, abs=1e-12)


def test_shares_follow_the_hand_solved_weights():
    journeys = hand_journeys()

    shares = markov_shares(journeys)

    # A > B: A 3/7 and B 3/7 of 6/7 => 1/2 each. B alone: 1. C > A: C (1/7) / (4/7) = 1/4,
    # A 3/4. A > C did not convert: 0.
    assert shares == pytest.approx([1 / 2, 1 / 2, 0, 0, 1, 1 / 4, 3 / 4], abs=1e-12)
    conversions, value = channel_totals(journeys, shares)
    assert conversions == pytest.approx([5 / 4, 3 / 2, 1 / 4], abs=1e-12)
    # A: 10/2 + 40 * 3/4 = 35; B: 10/2 + 20 = 25; C: 40/4 = 10.
    assert value == pytest.approx([35, 25, 10], abs=1e-9)


def test_repeated_touches_split_their_channels_credit_evenly():
    # A > A > B converted, B not converted.
    #   START -> A 1/2, B 1/2;  A -> A 1/2, B 1/2;  B -> CONVERSION 1/2, NULL 1/2
    #   x_B = 1/2, x_A = x_A / 2 + x_B / 2 => x_A = 1/2; P = 1/2
    #   without A: P = 1/2 * 1/2 = 1/4 => RE(A) = 1/2; without B: P = 0 => RE(B) = 1
    #   weights A 1/3, B 2/3; A's third is split over its two touches.
    journeys = Journeys.from_paths([["A", "A", "B"], ["B"]], converted=[True, False])

    assert removal_effects(journeys) == {
        "A": pytest.approx(1 / 2, abs=1e-12),
        "B": pytest.approx(1.0, abs=1e-12),
    }
    assert markov_shares(journeys) == pytest.approx([1 / 6, 1 / 6, 2 / 3, 0], abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_each_conversion_is_credited_exactly_once(order):
    journeys = random_journeys()

    shares = markov_shares(journeys, order=order)

    assert shares.dtype == np.float64
    assert shares.shape == journeys.touches.shape
    assert np.all(shares >= 0)
    sums = per_journey(journeys, shares)
    np.testing.assert_allclose(sums[journeys.converted], 1.0, rtol=0, atol=1e-12)
    assert np.all(sums[~journeys.converted] == 0)
    conversions, value = channel_totals(journeys, shares)
    assert conversions.sum() == pytest.approx(journeys.converted.sum(), rel=1e-12)
    assert value.sum() == pytest.approx(journeys.value.sum(), rel=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_same_journeys_always_get_the_same_credit(order):
    first = markov_shares(random_journeys(), order=order)
    second = markov_shares(random_journeys(), order=order)

    np.testing.assert_array_equal(first, second)
    assert removal_effects(random_journeys(), order=order) == removal_effects(
        random_journeys(), order=order
    )


def test_channel_seen_only_before_giving_up_gets_no_credit():
    # D only ever ends journeys that did not convert: D -> NULL with probability 1, so
    # no conversion passes through it and removing it changes nothing.
    journeys = Journeys.from_paths(
        [["A", "B"], ["B"], ["A", "D"], ["B", "D"], ["A"]],
        converted=[True, True, False, False, True],
    )

    effects = removal_effects(journeys)
    conversions, _ = channel_totals(journeys, markov_shares(journeys))

    assert effects["D"] == pytest.approx(0.0, abs=1e-12)
    assert effects["A"] > 0 and effects["B"] > 0
    assert conversions[journeys.channels.index("D")] == 0


def test_order_two_sees_which_channel_came_before():
    # A > B converted, C > B not converted. At order 1 both reach the same state B, which
    # converts half the time, so C gets credit; at order 2 (A, B) always converts and
    # (C, B) never does, so C is worth nothing and A and B share the conversion.
    #   order 2: START -> (A) 1/2, (C) 1/2; (A) -> (A, B) -> CONVERSION; (C) -> (C, B) -> NULL
    #   P = 1/2; without A or B: 0 => RE 1; without C: 1/2 => RE 0
    journeys = Journeys.from_paths([["A", "B"], ["C", "B"]], converted=[True, False])

    assert removal_effects(journeys, order=2) == {
        "A": pytest.approx(1.0, abs=1e-12),
        "B": pytest.approx(1.0, abs=1e-12),
        "C": pytest.approx(0.0, abs=1e-12),
    }
    assert markov_shares(journeys, order=2) == pytest.approx([1 / 2, 1 / 2, 0, 0], abs=1e-12)
    # Order 1: RE(A) = RE(C) = 1/2, RE(B) = 1 => A gets 1/4 / (1/4 + 1/2) = 1/3.
    assert markov_shares(journeys, order=1) == pytest.approx([1 / 3, 2 / 3, 0, 0], abs=1e-12)


def test_identical_paths_share_credit_evenly_at_higher_orders():
    # Every journey is A > B > C and converts: removing any channel breaks every path.
    journeys = Journeys.from_paths([["A", "B", "C"]] * 4)

    for order in (2, 3):
        assert removal_effects(journeys, order=order) == {"A": 1.0, "B": 1.0, "C": 1.0}
        assert markov_shares(journeys, order=order) == pytest.approx([1 / 3] * 12, abs=1e-12)


def test_large_chains_solved_by_iteration_agree_with_the_exact_solve(monkeypatch):
    journeys = random_journeys(1, n=1_000, n_channels=6)
    exact = removal_effects(journeys, order=2)

    monkeypatch.setattr(markov, "DENSE_STATE_LIMIT", 0)
    iterated = removal_effects(journeys, order=2)

    assert iterated == {name: pytest.approx(value, abs=1e-9) for name, value in exact.items()}


def test_no_conversions_means_no_credit():
    journeys = Journeys.from_paths([["A", "B"], ["B"]], converted=[False, False])

    assert removal_effects(journeys) == {"A": 0.0, "B": 0.0}
    assert np.all(markov_shares(journeys) == 0)


@pytest.mark.parametrize("order", [0, 4, 1.0, True])
def test_unsupported_order_is_refused(order):
    with pytest.raises(ValueError, match="order"):
        markov_shares(hand_journeys(), order=order)
    with pytest.raises(ValueError, match="order"):
        removal_effects(hand_journeys(), order=order)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6),
            st.booleans(),
            st.floats(0.5, 1_000),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([1, 2, 3]),
)
def test_credits_sum_to_the_conversions_and_their_value(rows, order):
    paths, converted, values = zip(*rows, strict=True)
    journeys = Journeys.from_paths(paths, converted=converted, value=values)

    conversions, value = channel_totals(journeys, markov_shares(journeys, order=order))

    assert conversions.sum() == pytest.approx(sum(converted), rel=1e-12, abs=1e-12)
    assert value.sum() == pytest.approx(journeys.value.sum(), rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_counting_by_sort_or_by_bincount_gives_the_same_credit(order, monkeypatch):
    journeys = random_journeys(2, n=1_500, n_channels=6)
    counted = markov_shares(journeys, order=order)
    effects = removal_effects(journeys, order=order)

    # Every key space "too large" (np.unique), and repeats counted one journey at a time.
    monkeypatch.setattr(markov, "DENSE_KEYS_PER_VALUE", 0)
    monkeypatch.setattr(markov, "DENSE_KEYS_FLOOR", 0)
    monkeypatch.setattr(markov, "REPEAT_BLOCK_KEYS", 1)

    np.testing.assert_array_equal(markov_shares(journeys, order=order), counted)
    assert removal_effects(journeys, order=order) == effects


def test_converting_journey_whose_channels_all_weigh_nothing_is_split_by_touch():
    # Only reachable through rounding from the public functions, so weights are given.
    journeys = Journeys.from_paths(
        [["A", "A", "B"], ["B", "C"], ["C"], []], converted=[True, True, False, True]
    )

    shares = markov._distribute(journeys, np.array([0.0, 0.0, 1.0]))

    assert shares == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0, 1, 0], abs=1e-12)
