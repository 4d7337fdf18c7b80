"""Markov chain removal-effect attribution, checked against chains solved by hand: the
removal effects, the standard allocation (`markov`: N x RE_c / sum RE) and its shares on
touches, and the journey-level split (`markov_journey`)."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.engine import markov
from attribution.engine.journeys import Journeys, channel_totals
from attribution.engine.markov import (
    conversion_probability,
    markov_credit,
    markov_journey_shares,
    markov_shares,
    removal_effects,
    value_removal_effects,
)

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
HAND_WEIGHTS = [3 / 7, 3 / 7, 1 / 7]


def hand_journeys(values=(10, 0, 20, 40)) -> Journeys:
    return Journeys.from_paths(HAND_PATHS, converted=HAND_CONVERTED, value=list(values))


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


def test_standard_allocation_credits_every_conversion_by_the_hand_solved_weights():
    journeys = hand_journeys()

    credit = markov_credit(journeys)

    assert credit.weights == pytest.approx(HAND_WEIGHTS, abs=1e-12)
    # N = 3 conversions, V = 10 + 20 + 40 = 70: A and B 3 x 3/7 = 9/7 and 70 x 3/7 = 30,
    # C 3 x 1/7 = 3/7 and 70 x 1/7 = 10.
    assert credit.conversions == pytest.approx([9 / 7, 9 / 7, 3 / 7], abs=1e-12)
    assert credit.value == pytest.approx([30, 30, 10], abs=1e-9)
    # Per journey: every converting journey credits 3/7, 3/7, 1/7, touched or not.
    rows = credit.by_journey(journeys)
    assert (
        rows.tolist()
        == [pytest.approx(HAND_WEIGHTS)] + [[0, 0, 0]] + [pytest.approx(HAND_WEIGHTS)] * 2
    )
    assert rows.sum(axis=0) == pytest.approx(credit.conversions, abs=1e-12)
    assert journeys.value @ rows == pytest.approx(credit.value, abs=1e-9)


def test_journey_split_follows_the_hand_solved_weights():
    journeys = hand_journeys()

    shares = markov_journey_shares(journeys)

    # A > B: A 3/7 and B 3/7 of 6/7 => 1/2 each. B alone: 1. C > A: C (1/7) / (4/7) = 1/4,
    # A 3/4. A > C did not convert: 0.
    assert shares == pytest.approx([1 / 2, 1 / 2, 0, 0, 1, 1 / 4, 3 / 4], abs=1e-12)
    conversions, value = channel_totals(journeys, shares)
    assert conversions == pytest.approx([5 / 4, 3 / 2, 1 / 4], abs=1e-12)
    # A: 10/2 + 40 * 3/4 = 35; B: 10/2 + 20 = 25; C: 40/4 = 10.
    assert value == pytest.approx([35, 25, 10], abs=1e-9)


def test_touches_carry_the_standard_allocation_exactly_when_values_allow():
    # The same chain (removal effects do not depend on values) with A > B worth 30, B 10,
    # C > A 20: N = 3, V = 60, mean m = 20. Standard: A and B 9/7 and 60 x 3/7 = 180/7,
    # C 3/7 and 60/7. The journey split (p) is as above: A > B 1/2, 1/2; B 1; C > A 1/4, 3/4.
    # Each channel's p is scaled by alpha on journeys worth <= m, beta on the others:
    #   A: low C > A (20): p 3/4, p v 15; high A > B (30): p 1/2, p v 15
    #      alpha 3/4 + beta 1/2 = 9/7 and 15 alpha + 15 beta = 180/7 => alpha 12/7, beta 0
    #   B: low B (10): p 1, p v 10; high A > B: p 1/2, p v 15
    #      alpha + beta / 2 = 9/7 and 10 alpha + 15 beta = 180/7 => alpha 9/14, beta 9/7
    #   C: only C > A, worth exactly m: one factor, 3/7 / (1/4) = (60/7) / 5 = 12/7
    journeys = hand_journeys((30, 0, 10, 20))

    credit = markov_credit(journeys)

    # A > B: A 1/2 x 0, B 1/2 x 9/7; B: 9/14; C > A: C 1/4 x 12/7, A 3/4 x 12/7.
    assert credit.touch_shares == pytest.approx([0, 9 / 14, 0, 0, 9 / 14, 3 / 7, 9 / 7], abs=1e-12)
    assert markov_shares(journeys) == pytest.approx(credit.touch_shares, abs=0)
    conversions, value = channel_totals(journeys, credit.touch_shares)
    assert conversions == pytest.approx([9 / 7, 9 / 7, 3 / 7], abs=1e-12)
    # B: 30 x 9/14 + 10 x 9/14 = 180/7.
    assert value == pytest.approx([180 / 7, 180 / 7, 60 / 7], abs=1e-9)
    assert credit.carried_exactly


def test_where_touches_cannot_carry_the_standard_credit_they_come_closest_in_exact_totals():
    # Paid Search > Email converts for 120, Display for 30, Display again does not.
    #   START -> PS 1/3, D 2/3; PS -> E 1; E -> CONVERSION 1; D -> CONVERSION 1/2, NULL 1/2
    #   P = 1/3 + 2/3 * 1/2 = 2/3; without any one channel P = 1/3 => RE 1/2 each, w 1/3
    # Standard: each channel 2 x 1/3 = 2/3 conversions and 150 x 1/3 = 50.
    # But Display's only conversion is worth 30: its touch carries a share s as (s, 30 s),
    # and Paid Search's and Email's (one journey, 120) as (s / 2, 60 s) on the journey
    # split's 1/2. Totals exactly 2 and 150 force Display's s = 1 and the other two s
    # summing to 2; least squares splits those evenly: the journey split itself.
    journeys = Journeys.from_paths(
        [["Paid Search", "Email"], ["Display"], ["Display"]],
        converted=[True, True, False],
        value=[120, 30, 0],
        channels=["Paid Search", "Email", "Display"],
    )

    credit = markov_credit(journeys)

    assert credit.conversions == pytest.approx([2 / 3] * 3, abs=1e-12)
    assert credit.value == pytest.approx([50] * 3, abs=1e-9)
    assert not credit.carried_exactly
    assert credit.touch_shares == pytest.approx([1 / 2, 1 / 2, 1, 0], abs=1e-9)
    assert credit.touch_conversions == pytest.approx([1 / 2, 1 / 2, 1], abs=1e-9)
    assert credit.touch_value == pytest.approx([60, 60, 30], abs=1e-7)
    conversions, value = channel_totals(journeys, credit.touch_shares)
    assert conversions.sum() == pytest.approx(2, rel=1e-12)
    assert value.sum() == pytest.approx(150, rel=1e-12)


def test_touches_come_closer_to_the_standard_credit_than_the_journey_split():
    # Values 10, 20, 40 (m = 70/3): B's journeys are worth 10 and 20, both under m, yet
    # its standard value is 30; C's only journey (C > A, 40) is over m.
    journeys = hand_journeys()

    credit = markov_credit(journeys)

    assert not credit.carried_exactly
    assert credit.touch_conversions.sum() == pytest.approx(3, rel=1e-12)
    assert credit.touch_value.sum() == pytest.approx(70, rel=1e-12)

    def distance(conversions, value):
        return np.sum(((conversions - credit.conversions) / 3) ** 2) + np.sum(
            ((value - credit.value) / 70) ** 2
        )

    split = channel_totals(journeys, markov_journey_shares(journeys))
    assert distance(credit.touch_conversions, credit.touch_value) < distance(*split)


def _solve_exactly(matrix: list[list[F]], rhs: list[F]) -> list[F]:
    """Gauss-Jordan elimination in fractions: the exact solution of a small system."""
    n = len(rhs)
    rows = [[*row, b] for row, b in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                k = rows[r][col] / rows[col][col]
                rows[r] = [x - k * y for x, y in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def test_touches_carry_the_least_squares_closest_standard_credit():
    # The hand journeys worth 10, 20, 40 (m = 70/3). The journey split (weights 3/7,
    # 3/7, 1/7) gives groups of touches, (count, value): A under m (A > B's A: 1/2, 5),
    # B under m (A > B's B and B: 1/2 + 1 = 3/2, 5 + 20 = 25), A over m (C > A's A: 3/4,
    # 30), C over m (C > A's C: 1/4, 10). One factor f per group; the channel totals
    # f . count and f . value should be closest to the standard 9/7, 9/7, 3/7 and 30,
    # 30, 10 (squared gaps relative to N = 3 and V = 70) while f . count = 3 and
    # f . value = 70 in all. The minimum of that quadratic under two linear constraints
    # solves one linear system (Lagrange: 2 M'M f + C' l = 2 M't, C f = d), solved
    # here exactly; its factors are all > 0, so the bounds f >= 0 are not in play.
    groups = [(0, F(1, 2), F(5)), (1, F(3, 2), F(25)), (0, F(3, 4), F(30)), (2, F(1, 4), F(10))]
    target = [(F(9, 7), F(30)), (F(9, 7), F(30)), (F(3, 7), F(10))]
    m, t = [], []
    for c, (conversions, value) in enumerate(target):
        m.append([a / 3 if ch == c else F(0) for ch, a, _ in groups])
        t.append(conversions / 3)
        m.append([av / 70 if ch == c else F(0) for ch, _, av in groups])
        t.append(value / 70)
    constraints = [[a for _, a, _ in groups], [av for _, _, av in groups]]
    k = len(groups)
    normal = [[2 * sum((row[i] * row[j] for row in m), F(0)) for j in range(k)] for i in range(k)]
    system = [normal[i] + [constraints[0][i], constraints[1][i]] for i in range(k)]
    system += [[*constraints[0], F(0), F(0)], [*constraints[1], F(0), F(0)]]
    rhs = [2 * sum((row[i] * b for row, b in zip(m, t, strict=True)), F(0)) for i in range(k)]
    a_low, b_low, a_high, c_high = _solve_exactly(system, [*rhs, F(3), F(70)])[:k]
    assert (a_low, b_low, a_high, c_high) == (
        F(143504, 135741),
        F(44138, 45247),
        F(370856, 407223),
        F(58848, 45247),
    )

    credit = markov_credit(hand_journeys())

    # Touches: A > B (A, B), A > C (not converted), B, C > A (C, A).
    expected = [a_low / 2, b_low / 2, 0, 0, b_low, c_high / 4, a_high * 3 / 4]
    assert credit.touch_shares == pytest.approx([float(x) for x in expected], abs=1e-7)
    assert credit.touch_conversions == pytest.approx(
        [float(a_low / 2 + a_high * 3 / 4), float(b_low * 3 / 2), float(c_high / 4)], abs=1e-7
    )
    assert credit.touch_value == pytest.approx(
        [float(a_low * 5 + a_high * 30), float(b_low * 25), float(c_high * 10)], abs=1e-6
    )


def test_conversions_all_worth_the_same_lend_an_untouched_channels_credit_evenly():
    # A converts twice and B once (each worth 10); C > A does not convert.
    #   START -> A 1/2, B 1/4, C 1/4; C -> A 1; A -> CONVERSION 2/3, NULL 1/3; B -> CONV 1
    #   x_A = x_C = 2/3, x_B = 1: P = 1/3 + 1/4 + 1/6 = 3/4
    #   without A 1/4 (RE 2/3), without B 1/2 (RE 1/3), without C 7/12 (RE 2/9)
    #   weights 6/11, 3/11, 2/11: standard conversions 18/11, 9/11, 6/11 of N = 3.
    # C touched no converting journey, so no shares can give it its 6/11. Every journey
    # is worth the mean, so only the count is constrained: 2 f_A + f_B = 3, and the value
    # gaps are the count gaps (x 10). Least squares: (2 f_A - 18/11)^2 + (f_B - 9/11)^2
    # is least at 2 f_A = 21/11, f_B = 12/11: A and B each take half of C's 6/11.
    journeys = Journeys.from_paths(
        [["A"], ["A"], ["B"], ["C", "A"]],
        converted=[True, True, True, False],
        value=[10, 10, 10, 0],
    )

    credit = markov_credit(journeys)

    assert credit.conversions == pytest.approx([18 / 11, 9 / 11, 6 / 11], abs=1e-12)
    assert not credit.carried_exactly
    assert credit.touch_shares == pytest.approx([21 / 22, 21 / 22, 12 / 11, 0, 0], abs=1e-7)
    assert credit.touch_conversions == pytest.approx([21 / 11, 12 / 11, 0], abs=1e-7)
    assert credit.touch_value == pytest.approx([210 / 11, 120 / 11, 0], abs=1e-6)


def test_value_removal_effects_match_the_hand_solved_chain():
    # Each move into CONVERSION is worth the value of the conversions made by it, over
    # all moves out of the state: A 40 / 3 (C > A), B (10 + 20) / 2, C 0.
    #   x_B = 15; x_C = x_A / 2; x_A = x_B / 3 + x_C / 3 + 40/3 => x_A = 22, x_C = 11
    #   E = 1/2 * 22 + 1/4 * 15 + 1/4 * 11 = 35/2 (= 70 over 4 journeys)
    # Without A: E = 15/4                  => RE 1 - 3/14 = 11/14
    # Without B: x_A = 16, x_C = 8, E = 10 => RE 1 - 4/7 = 3/7
    # Without C: x_A = 55/3, E = 155/12    => RE 1 - 155/210 = 11/42
    effects = value_removal_effects(hand_journeys())

    assert effects == {
        "A": pytest.approx(11 / 14, abs=1e-12),
        "B": pytest.approx(3 / 7, abs=1e-12),
        "C": pytest.approx(11 / 42, abs=1e-12),
    }


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
    assert markov_journey_shares(journeys) == pytest.approx([1 / 6, 1 / 6, 2 / 3, 0], abs=1e-12)
    # One conversion: the standard allocation is the same split.
    assert markov_shares(journeys) == pytest.approx([1 / 6, 1 / 6, 2 / 3, 0], abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_each_conversion_is_credited_exactly_once_per_journey(order):
    journeys = random_journeys()

    shares = markov_journey_shares(journeys, order=order)

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
def test_touches_carry_each_channels_standard_credit(order):
    # 2,000 journeys: every channel converts on journeys worth more and less than the mean.
    journeys = random_journeys()

    credit = markov_credit(journeys, order=order)
    shares = markov_shares(journeys, order=order)

    assert shares.dtype == np.float64 and shares.shape == journeys.touches.shape
    assert np.all(shares >= 0)
    assert np.all(per_journey(journeys, shares)[~journeys.converted] == 0)
    assert credit.carried_exactly
    conversions, value = channel_totals(journeys, shares)
    weights = credit.removal_effects / credit.removal_effects.sum()
    np.testing.assert_allclose(conversions, journeys.converted.sum() * weights, rtol=1e-12)
    np.testing.assert_allclose(value, journeys.value.sum() * weights, rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_same_journeys_always_get_the_same_credit(order):
    for model in (markov_shares, markov_journey_shares):
        first = model(random_journeys(), order=order)
        second = model(random_journeys(), order=order)

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
    assert markov_journey_shares(journeys, order=2) == pytest.approx(
        [1 / 2, 1 / 2, 0, 0], abs=1e-12
    )
    assert markov_shares(journeys, order=2) == pytest.approx([1 / 2, 1 / 2, 0, 0], abs=1e-12)
    # Order 1: RE(A) = RE(C) = 1/2, RE(B) = 1 => weights 1/4, 1/2, 1/4. Per journey A gets
    # 1/4 / (1/4 + 1/2) = 1/3; the standard allocation gives C 1/4 of the conversion of a
    # journey it was never in, which no touch of C can carry: on touches A and B take
    # x + y = 1 closest to 1/4 and 1/2, x - 1/4 = y - 1/2 => 3/8 and 5/8.
    assert markov_journey_shares(journeys, order=1) == pytest.approx(
        [1 / 3, 2 / 3, 0, 0], abs=1e-12
    )
    credit = markov_credit(journeys, order=1)
    assert credit.conversions == pytest.approx([1 / 4, 1 / 2, 1 / 4], abs=1e-12)
    assert credit.touch_shares == pytest.approx([3 / 8, 5 / 8, 0, 0], abs=1e-9)


def test_identical_paths_share_credit_evenly_at_higher_orders():
    # Every journey is A > B > C and converts: removing any channel breaks every path.
    journeys = Journeys.from_paths([["A", "B", "C"]] * 4)

    for order in (2, 3):
        assert removal_effects(journeys, order=order) == {"A": 1.0, "B": 1.0, "C": 1.0}
        for model in (markov_shares, markov_journey_shares):
            assert model(journeys, order=order) == pytest.approx([1 / 3] * 12, abs=1e-12)


def test_large_chains_solved_by_iteration_agree_with_the_exact_solve(monkeypatch):
    journeys = random_journeys(1, n=1_000, n_channels=6)
    exact = removal_effects(journeys, order=2)

    monkeypatch.setattr(markov, "DENSE_STATE_LIMIT", 0)
    iterated = removal_effects(journeys, order=2)

    assert iterated == {name: pytest.approx(value, abs=1e-9) for name, value in exact.items()}


def test_a_slow_chain_solved_by_iteration_stops_within_its_tolerance(monkeypatch):
    # A > B a hundred times over, converting; A alone not converting.
    #   START -> A 1; A -> B 100/101, NULL 1/101; B -> A 99/100, CONVERSION 1/100
    #   x_A = 100/101 x_B, x_B = 1/100 + 99/100 x_A  =>  x_B = 101/200, x_A = P = 1/2
    # Each round A > B > A keeps 99/101 of the change: thousands of sweeps, so stopping
    # on a small change alone would leave an error of about 1e-12 / (1 - 0.99) ~ 1e-10.
    journeys = Journeys.from_paths([["A", "B"] * 100, ["A"]], converted=[True, False], value=[1, 0])
    monkeypatch.setattr(markov, "DENSE_STATE_LIMIT", 0)

    assert abs(conversion_probability(journeys) - 1 / 2) < 3 * markov.ITERATION_TOLERANCE
    assert conversion_probability(journeys, removed="B") == 0
    assert removal_effects(journeys) == {"A": 1.0, "B": 1.0}


def test_a_chain_that_does_not_converge_in_the_sweeps_allowed_is_refused(monkeypatch):
    journeys = Journeys.from_paths([["A", "B"] * 100, ["A"]], converted=[True, False], value=[1, 0])
    monkeypatch.setattr(markov, "DENSE_STATE_LIMIT", 0)
    monkeypatch.setattr(markov, "MAX_ITERATIONS", 50)

    with pytest.raises(RuntimeError, match="^markov: conversion probabilities did not converge"):
        conversion_probability(journeys)
    with pytest.raises(RuntimeError, match="in 50 iterations$"):
        conversion_probability(journeys)


def test_no_conversions_means_no_credit():
    journeys = Journeys.from_paths([["A", "B"], ["B"]], converted=[False, False])

    assert removal_effects(journeys) == {"A": 0.0, "B": 0.0}
    assert np.all(markov_shares(journeys) == 0)
    assert np.all(markov_journey_shares(journeys) == 0)
    assert markov_credit(journeys).conversions.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("order", [0, 4, 1.0, True])
def test_unsupported_order_is_refused(order):
    with pytest.raises(ValueError, match="order"):
        markov_shares(hand_journeys(), order=order)
    with pytest.raises(ValueError, match="order"):
        markov_journey_shares(hand_journeys(), order=order)
    with pytest.raises(ValueError, match="order"):
        removal_effects(hand_journeys(), order=order)


journeys_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6),
        st.booleans(),
        st.floats(0.5, 1_000),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=80, deadline=None)
@given(journeys_strategy, st.sampled_from([1, 2, 3]))
def test_both_allocations_credit_the_conversions_and_their_value_exactly(rows, order):
    paths, converted, values = zip(*rows, strict=True)
    journeys = Journeys.from_paths(paths, converted=converted, value=values)
    conversions, value = sum(converted), journeys.value.sum()

    credit = markov_credit(journeys, order=order)
    per_journey_conversions, per_journey_value = channel_totals(
        journeys, markov_journey_shares(journeys, order=order)
    )

    # Standard: N x w and V x w, also when read per journey.
    assert credit.conversions.sum() == pytest.approx(conversions, rel=1e-12, abs=1e-12)
    assert credit.value.sum() == pytest.approx(value, rel=1e-12, abs=1e-9)
    rows = credit.by_journey(journeys)
    np.testing.assert_allclose(rows.sum(axis=0), credit.conversions, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(journeys.value @ rows, credit.value, rtol=1e-12, atol=1e-9)
    # On touches: exactly the conversions and their value too.
    on_touches, value_on_touches = channel_totals(journeys, credit.touch_shares)
    assert np.all(credit.touch_shares >= 0)
    np.testing.assert_allclose(on_touches, credit.touch_conversions, rtol=1e-12, atol=1e-12)
    assert on_touches.sum() == pytest.approx(conversions, rel=1e-12, abs=1e-12)
    assert value_on_touches.sum() == pytest.approx(value, rel=1e-12, abs=1e-9)
    # Per journey.
    assert per_journey_conversions.sum() == pytest.approx(conversions, rel=1e-12, abs=1e-12)
    assert per_journey_value.sum() == pytest.approx(value, rel=1e-12, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(journeys_strategy, st.sampled_from([1, 2, 3]))
def test_touches_carry_the_standard_allocation_when_conversions_are_worth_the_same(rows, order):
    paths, converted, _ = zip(*rows, strict=True)
    journeys = Journeys.from_paths(paths, converted=converted)  # every conversion worth 1

    credit = markov_credit(journeys, order=order)
    conversions, value = channel_totals(journeys, credit.touch_shares)

    # Exactly the standard credit, unless the chain credits a channel that no converting
    # journey touched.
    touched = np.zeros(len(journeys.channels), dtype=bool)
    touched[journeys.touches[np.repeat(journeys.converted, journeys.lengths)]] = True
    if np.all(touched | (credit.conversions == 0)):
        assert credit.carried_exactly
        np.testing.assert_allclose(conversions, credit.conversions, atol=1e-12)
        np.testing.assert_allclose(value, credit.value, atol=1e-12)
    assert conversions.sum() == pytest.approx(sum(converted), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_counting_by_sort_or_by_bincount_gives_the_same_credit(order, monkeypatch):
    journeys = random_journeys(2, n=1_500, n_channels=6)
    counted = markov_shares(journeys, order=order)
    split = markov_journey_shares(journeys, order=order)
    effects = removal_effects(journeys, order=order)

    # Every key space "too large" (np.unique), and repeats counted one journey at a time.
    monkeypatch.setattr(markov, "DENSE_KEYS_PER_VALUE", 0)
    monkeypatch.setattr(markov, "DENSE_KEYS_FLOOR", 0)
    monkeypatch.setattr(markov, "REPEAT_BLOCK_KEYS", 1)

    np.testing.assert_array_equal(markov_shares(journeys, order=order), counted)
    np.testing.assert_array_equal(markov_journey_shares(journeys, order=order), split)
    assert removal_effects(journeys, order=order) == effects


def test_converting_journey_whose_channels_all_weigh_nothing_is_split_by_touch():
    # Only reachable through rounding from the public functions, so weights are given.
    journeys = Journeys.from_paths(
        [["A", "A", "B"], ["B", "C"], ["C"], []], converted=[True, True, False, True]
    )

    shares = markov._distribute(journeys, np.array([0.0, 0.0, 1.0]))

    assert shares == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0, 1, 0], abs=1e-12)


def test_order_two_states_start_afresh_with_each_journey():
    # A > A converts, A alone does not, B converts. At order 2 the states are (A), (A, A)
    # and (B): the second journey's A is (A), not (A, A) after the first journey's A.
    #   START -> (A) 2/3, (B) 1/3; (A) -> (A, A) 1/2, NULL 1/2; (A, A), (B) -> CONVERSION
    #   P = 2/3 x 1/2 + 1/3 = 2/3; without A 1/3, without B 1/3: RE 1/2 each.
    journeys = Journeys.from_paths([["A", "A"], ["A"], ["B"]], converted=[True, False, True])

    assert removal_effects(journeys, order=2) == pytest.approx({"A": 0.5, "B": 0.5}, abs=1e-12)
    assert conversion_probability(journeys, order=2) == pytest.approx(2 / 3, abs=1e-12)


def test_a_converting_journey_without_touches_changes_no_channels_credit():
    # Left out of the chain and of N and V: the hand journeys' credit, whatever it is worth.
    with_empty = Journeys.from_paths(
        [*HAND_PATHS, []], converted=[*HAND_CONVERTED, True], value=[10, 0, 20, 40, 1000]
    )

    credit, hand = markov_credit(with_empty), markov_credit(hand_journeys())

    assert credit.conversions == pytest.approx([9 / 7, 9 / 7, 3 / 7], abs=1e-12)
    assert credit.value == pytest.approx([30, 30, 10], abs=1e-9)
    np.testing.assert_allclose(credit.touch_shares, hand.touch_shares, rtol=0, atol=1e-12)
    by_journey = credit.by_journey(with_empty)
    assert by_journey[4].tolist() == [0, 0, 0]
    assert by_journey.sum(axis=0) == pytest.approx([9 / 7, 9 / 7, 3 / 7], abs=1e-12)


def test_a_channel_nobody_touched_is_listed_with_no_credit():
    journeys = Journeys.from_paths(
        HAND_PATHS, converted=HAND_CONVERTED, value=[10, 0, 20, 40], channels="ABCD"
    )

    credit = markov_credit(journeys)

    assert credit.channels == ("A", "B", "C", "D")
    assert credit.weights == pytest.approx([3 / 7, 3 / 7, 1 / 7, 0], abs=1e-12)
    assert len(credit.touch_conversions) == len(credit.touch_value) == 4
    assert credit.touch_conversions[3] == credit.touch_value[3] == 0


def test_journeys_without_any_touch_give_no_shares():
    journeys = Journeys.from_paths([[], []], converted=[False, False], channels=["A"])

    assert markov_shares(journeys).shape == (0,)
    assert markov_journey_shares(journeys).shape == (0,)


def test_removing_an_unknown_channel_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^removed: unknown channel 'Radio'$"):
        conversion_probability(hand_journeys(), removed="Radio")


def test_the_hand_solved_chain_solved_by_iteration(monkeypatch):
    # B -> CONVERSION 1: the first sweep moves x_B by exactly 1, which is no reason to stop.
    monkeypatch.setattr(markov, "DENSE_STATE_LIMIT", 0)

    assert conversion_probability(hand_journeys()) == pytest.approx(3 / 4, abs=1e-11)
    assert removal_effects(hand_journeys()) == pytest.approx(
        {name: float(effect) for name, effect in HAND_EFFECTS.items()}, abs=1e-11
    )


def test_the_closest_shares_do_not_depend_on_the_unit_of_value():
    # The gaps are relative to N and V, so values in cents or in hundreds (V = 0.7) give
    # the same shares.
    cents = markov_credit(hand_journeys())
    hundreds = markov_credit(hand_journeys((0.1, 0, 0.2, 0.4)))

    np.testing.assert_allclose(hundreds.touch_shares, cents.touch_shares, rtol=0, atol=1e-7)
    assert hundreds.touch_value == pytest.approx(cents.touch_value / 100, abs=1e-9)


@pytest.mark.parametrize("block_keys", [1, 3, 4, 7, markov.REPEAT_BLOCK_KEYS])
def test_repeats_are_counted_within_each_journey_whatever_the_block(monkeypatch, block_keys):
    # Channels are counted in blocks of journeys (a block of keys journey × channel at a
    # time, for memory): every block size must count each journey's own touches only.
    journeys = Journeys.from_paths(
        [["Email", "Email", "Direct"], ["Direct"], [], ["Email", "Direct", "Email", "Email"]]
    )
    monkeypatch.setattr(markov, "REPEAT_BLOCK_KEYS", block_keys)
    repeats = markov._repeats(journeys, journeys.journey_of_touch())
    assert list(repeats) == [2, 2, 1, 1, 3, 1, 3, 3]


def _one_journey_through(channels: int) -> Journeys:
    """One converting journey touching each of `channels` channels once."""
    return Journeys(
        channels=tuple(f"c{i}" for i in range(channels)),
        offsets=np.array([0, channels], dtype=np.int64),
        touches=np.arange(channels, dtype=np.int32),
        ages=np.zeros(channels),
        converted=np.array([True]),
        value=np.array([1.0]),
    )


def test_an_order_whose_states_would_not_fit_64_bits_is_refused_naming_the_channels():
    # Order-3 states are three base-(channels + 1) digits in an int64 with room to spare:
    # (channels + 1)³ must stay under 2⁶²; 1,664,510 channels is the first count it does not.
    channels = 1_664_510
    assert (channels + 1) ** 3 >= 2**62 > channels**3
    with pytest.raises(ValueError) as refused:
        markov_shares(_one_journey_through(channels), order=3)
    assert str(refused.value) == "order: too many channels (1664510) for order 3"
