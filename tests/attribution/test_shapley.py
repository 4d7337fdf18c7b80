"""Shapley attribution on small games worked out by hand, and its promises on random ones."""

import math
from fractions import Fraction
from itertools import combinations, pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.engine.journeys import Journeys, channel_totals
from attribution.engine.shapley import shapley_shares, shapley_values

# The hand-computed game: 10 journeys over channels A, B, C.
#   A      x3 converted
#   B      x1 converted
#   A > B  x2 converted, x1 not converted
#   A > C  x1 converted
#   C      x2 not converted
# v(S) counts the converting journeys whose channels all lie in S:
#   v({}) = 0   v(A) = 3   v(B) = 1   v(C) = 0
#   v(AB) = 3 + 1 + 2 = 6   v(AC) = 3 + 1 = 4   v(BC) = 1   v(ABC) = 7
# With three channels a coalition of size 0, 1, 2 weighs 1/3, 1/6, 1/3:
#   A = 1/3 (3 - 0) + 1/6 (6 - 1) + 1/6 (4 - 0) + 1/3 (7 - 1) = 1 + 5/6 + 4/6 + 2 = 9/2
#   B = 1/3 (1 - 0) + 1/6 (6 - 3) + 1/6 (1 - 0) + 1/3 (7 - 4) = 1/3 + 1/2 + 1/6 + 1 = 2
#   C = 1/3 (0 - 0) + 1/6 (4 - 3) + 1/6 (1 - 1) + 1/3 (7 - 6) = 1/6 + 1/3 = 1/2
# They sum to v(ABC) = 7, the conversions.
GAME = Journeys.from_paths(
    [["A"]] * 3 + [["B"]] + [["A", "B"]] * 3 + [["A", "C"]] + [["C"]] * 2,
    converted=[True] * 6 + [False] + [True] + [False] * 2,
)
GAME_VALUES = {"A": Fraction(9, 2), "B": Fraction(2), "C": Fraction(1, 2)}


def random_journeys(n_channels: int, count: int, *, seed: int = 0) -> Journeys:
    rng = np.random.default_rng(seed)
    names = [f"ch{i:02d}" for i in range(n_channels)]
    paths = [
        [names[c] for c in rng.integers(0, n_channels, rng.integers(1, 6))] for _ in range(count)
    ]
    converted = rng.random(count) < 0.4
    return Journeys.from_paths(
        paths, converted=converted, value=rng.uniform(1, 200, count), channels=names
    )


def as_array(values: dict[str, float]) -> np.ndarray:
    return np.array(list(values.values()))


def test_three_channel_game_matches_hand_computed_values():
    result = shapley_values(GAME)
    assert result.exact is True
    assert result.samples == 0
    assert result.values == pytest.approx({c: float(v) for c, v in GAME_VALUES.items()})
    assert result.standard_errors == {"A": 0.0, "B": 0.0, "C": 0.0}


def test_values_sum_to_the_conversions():
    journeys = random_journeys(8, 2_000)
    result = shapley_values(journeys)
    assert sum(result.values.values()) == pytest.approx(journeys.converted.sum())


def test_interchangeable_channels_get_equal_values():
    # Every journey also appears with A and B swapped, so A and B play the same part.
    rng = np.random.default_rng(1)
    base = [list(rng.choice(["A", "B", "C", "D"], rng.integers(1, 4))) for _ in range(200)]
    swap = {"A": "B", "B": "A", "C": "C", "D": "D"}
    paths = base + [[swap[c] for c in p] for p in base]
    converted = np.tile(rng.random(200) < 0.5, 2)
    values = shapley_values(Journeys.from_paths(paths, converted=converted)).values
    assert values["A"] == pytest.approx(values["B"])
    assert values["A"] != pytest.approx(values["C"])


def test_channel_only_in_non_converting_journeys_gets_nothing():
    journeys = Journeys.from_paths(
        [["A", "X"], ["X"], ["A"], ["A", "B"]], converted=[False, False, True, True]
    )
    result = shapley_values(journeys)
    assert result.values["X"] == 0.0
    # A = 1/2 (1 - 0) + 1/2 (2 - 0) = 3/2 and B = 1/2 (0 - 0) + 1/2 (2 - 1) = 1/2, as if
    # X did not exist.
    assert result.values == pytest.approx({"A": 1.5, "B": 0.5, "X": 0.0})


def test_each_conversion_is_shared_evenly_by_its_distinct_channels_on_average():
    # v is a sum of unanimity games, one per converting journey, so the Shapley value is
    # the even split of each conversion over its distinct channels: an independent check
    # of the coalition enumeration.
    journeys = random_journeys(12, 1_000, seed=3)
    expected = np.zeros(12)
    for a, b, converted in zip(
        journeys.offsets[:-1], journeys.offsets[1:], journeys.converted, strict=True
    ):
        present = np.unique(journeys.touches[a:b])
        expected[present] += converted / len(present)
    np.testing.assert_allclose(as_array(shapley_values(journeys).values), expected, atol=1e-9)


def test_shares_credit_each_channel_its_hand_computed_shapley_value():
    shares = shapley_shares(GAME)
    by_journey = [list(shares[a:b]) for a, b in pairwise(GAME.offsets)]
    assert by_journey[0] == pytest.approx([1.0])  # A alone
    assert by_journey[3] == pytest.approx([1.0])  # B alone
    assert by_journey[4] == pytest.approx([1 / 2, 1 / 2])  # A > B: one half each
    assert by_journey[6] == pytest.approx([0.0, 0.0])  # A > B, not converted
    assert by_journey[7] == pytest.approx([1 / 2, 1 / 2])  # A > C
    assert by_journey[8] == pytest.approx([0.0])  # C, not converted
    # A: 3 alone + 2 x 1/2 + 1/2 = 9/2; B: 1 + 2 x 1/2 = 2; C: 1/2 — the values above.
    conversions, _ = channel_totals(GAME, shares)
    assert conversions == pytest.approx([float(v) for v in GAME_VALUES.values()])


def textbook_shapley(channels, worth):
    """phi_i = sum over S not holding i of |S|! (n - |S| - 1)! / n! (v(S + i) - v(S))."""
    n = len(channels)
    values = {}
    for i in channels:
        others = [c for c in channels if c != i]
        values[i] = sum(
            Fraction(math.factorial(k) * math.factorial(n - k - 1), math.factorial(n))
            * (worth(set(S) | {i}) - worth(set(S)))
            for k in range(n)
            for S in combinations(others, k)
        )
    return values


def test_credited_value_is_the_shapley_value_of_the_value_game():
    # GAME with values: A 10, 20, 30; B 40; A > B 50, 60 (and 70, not converted); A > C 80.
    # Worth of S: the value of the converting journeys whose channels all lie in S.
    values = [10, 20, 30, 40, 50, 60, 70, 80, 0, 0]
    journeys = Journeys.from_paths(
        [list(GAME.channels[t] for t in GAME.touches[a:b]) for a, b in pairwise(GAME.offsets)],
        converted=GAME.converted,
        value=values,
        channels=GAME.channels,
    )
    sets = [
        set(journeys.channels[t] for t in journeys.touches[a:b])
        for a, b in pairwise(journeys.offsets)
    ]

    def worth(coalition):
        return sum(
            Fraction(int(v))
            for s, v, c in zip(sets, journeys.value, journeys.converted, strict=True)
            if c and s <= coalition
        )

    expected = textbook_shapley(list(journeys.channels), worth)
    # Even split: A 10 + 20 + 30 + (50 + 60) / 2 + 80 / 2 = 155, B 40 + 55 = 95, C 40.
    assert expected == {"A": 155, "B": 95, "C": 40}
    _, value = channel_totals(journeys, shapley_shares(journeys))
    assert value == pytest.approx([155, 95, 40])


def test_repeated_channel_splits_its_share_across_its_touches():
    # v(A) = 1, v(B) = 0, v(AB) = 2: A = 1/2 (1) + 1/2 (2) = 3/2, B = 1/2 (2 - 1) = 1/2.
    journeys = Journeys.from_paths([["A", "B", "A"], ["A"]])
    assert shapley_values(journeys).values == pytest.approx({"A": 1.5, "B": 0.5})
    # A takes half of the first journey, a quarter on each of its two touches.
    assert list(shapley_shares(journeys)) == pytest.approx([1 / 4, 1 / 2, 1 / 4, 1.0])


def test_shares_sum_to_one_per_converting_journey_and_zero_otherwise():
    journeys = random_journeys(6, 2_000)
    shares = shapley_shares(journeys)
    assert shares.shape == journeys.touches.shape
    assert (shares >= 0).all()
    per_journey = np.add.reduceat(shares, journeys.offsets[:-1])
    np.testing.assert_allclose(per_journey[journeys.converted], 1.0)
    assert (per_journey[~journeys.converted] == 0).all()
    conversions, value = channel_totals(journeys, shares)
    assert conversions.sum() == pytest.approx(journeys.converted.sum())
    assert value.sum() == pytest.approx(journeys.value.sum())


def test_journey_without_touches_that_did_not_convert_is_skipped():
    journeys = Journeys.from_paths([["A"], [], ["A", "B"]], converted=[True, False, True])
    assert shapley_values(journeys).values == pytest.approx({"A": 1.5, "B": 0.5})
    assert list(shapley_shares(journeys)) == pytest.approx([1.0, 0.5, 0.5])


def test_converting_journey_without_touches_is_refused():
    journeys = Journeys.from_paths([["A"], []], converted=[True, True])
    with pytest.raises(ValueError, match="no touch"):
        shapley_values(journeys)


def test_sampled_estimate_is_within_four_standard_errors_of_the_exact_values():
    journeys = random_journeys(5, 400, seed=5)
    exact = as_array(shapley_values(journeys).values)
    sampled = shapley_values(journeys, exact_limit=3, samples=2_000, seed=7)
    assert sampled.exact is False
    assert sampled.samples == 2_000
    errors = as_array(sampled.standard_errors)
    assert (errors > 0).all()
    assert (np.abs(as_array(sampled.values) - exact) <= 4 * errors).all()
    # Every random order hands out exactly the conversions, so the estimate does too.
    assert as_array(sampled.values).sum() == pytest.approx(journeys.converted.sum())


def test_more_than_fifteen_channels_are_estimated_close_to_the_exact_values():
    journeys = random_journeys(17, 3_000, seed=11)
    sampled = shapley_values(journeys)
    assert sampled.exact is False
    exact = as_array(shapley_values(journeys, exact_limit=17).values)
    errors = as_array(sampled.standard_errors)
    assert (errors > 0).all()
    assert (np.abs(as_array(sampled.values) - exact) <= 4 * errors).all()
    shares = shapley_shares(journeys)
    per_journey = np.add.reduceat(shares, journeys.offsets[:-1])
    np.testing.assert_allclose(per_journey[journeys.converted], 1.0)
    # The shares are the closed form, exact whatever the number of channels.
    conversions, _ = channel_totals(journeys, shares)
    np.testing.assert_allclose(conversions, exact, atol=1e-9)


def test_sampled_estimate_is_the_same_for_the_same_seed():
    journeys = random_journeys(6, 500, seed=2)
    first = shapley_values(journeys, exact_limit=4, samples=300, seed=42)
    again = shapley_values(journeys, exact_limit=4, samples=300, seed=42)
    other = shapley_values(journeys, exact_limit=4, samples=300, seed=43)
    assert first == again
    assert first.values != other.values


def test_more_than_64_channels_are_refused():
    names = [f"ch{i}" for i in range(65)]
    journeys = Journeys.from_paths([[name] for name in names])
    with pytest.raises(ValueError, match="at most 64 channels"):
        shapley_values(journeys)
    with pytest.raises(ValueError, match="at most 64 channels"):
        shapley_shares(journeys)


def test_64_channels_are_estimated():
    journeys = random_journeys(64, 500, seed=4)
    result = shapley_values(journeys, samples=200)
    assert result.exact is False
    assert sum(result.values.values()) == pytest.approx(journeys.converted.sum())


def test_unusable_settings_are_refused():
    with pytest.raises(ValueError, match="exact_limit"):
        shapley_values(GAME, exact_limit=21)
    with pytest.raises(ValueError, match="samples"):
        shapley_values(GAME, exact_limit=2, samples=1)


paths_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6),
        st.booleans(),
        st.floats(min_value=0.01, max_value=1e4),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=paths_strategy, exact_limit=st.sampled_from([2, 15]))
def test_credits_sum_to_the_conversions_and_their_value(rows, exact_limit):
    journeys = Journeys.from_paths(
        [p for p, _, _ in rows],
        converted=[c for _, c, _ in rows],
        value=[v for _, _, v in rows],
    )
    result = shapley_values(journeys, exact_limit=exact_limit, samples=50)
    assert sum(result.values.values()) == pytest.approx(journeys.converted.sum())
    conversions, value = channel_totals(journeys, shapley_shares(journeys))
    assert conversions.sum() == pytest.approx(journeys.converted.sum())
    assert value.sum() == pytest.approx(journeys.value.sum())
    if result.exact:
        np.testing.assert_allclose(conversions, as_array(result.values), atol=1e-9)


def test_sampled_standard_errors_are_those_of_the_orders_drawn():
    # A converts alone, and A > B converts. Along any order A completes {A}; {A, B} goes
    # to whichever of A and B comes last. So A's contribution is 2 or 1, B's 0 or 1, and
    # B's estimate is k / s for the k of s orders with B last: exact A 3/2, B 1/2. Each
    # contribution's sample variance (ddof 1) is k (s - k) / (s (s - 1)), so the standard
    # error of the mean is sqrt(p (1 - p) / (s - 1)) with p = k / s.
    journeys = Journeys.from_paths([["A"], ["A", "B"]])
    samples = 2_000

    sampled = shapley_values(journeys, exact_limit=0, samples=samples, seed=3)

    k = sampled.values["B"] * samples
    assert k == round(k) and 0 < k < samples
    p = k / samples
    assert sampled.values["A"] == pytest.approx(2 - p, abs=1e-12)
    error = math.sqrt(p * (1 - p) / (samples - 1))
    assert sampled.standard_errors == pytest.approx({"A": error, "B": error}, rel=1e-9)
    assert abs(p - 1 / 2) <= 4 * error


def test_settings_at_their_limits_are_accepted():
    # Two orders are the fewest that state a standard error; no channel exact, or twenty.
    two = shapley_values(GAME, exact_limit=0, samples=2, seed=1)
    assert two.exact is False and two.samples == 2
    assert sum(two.values.values()) == pytest.approx(7)
    assert shapley_values(GAME, exact_limit=20).values == pytest.approx(
        {"A": 4.5, "B": 2, "C": 0.5}
    )
    with pytest.raises(ValueError, match=r"^samples must be at least 2 to state a standard error$"):
        shapley_values(GAME, exact_limit=0, samples=1)


def test_by_default_up_to_fifteen_channels_are_exact_and_more_sampled_2000_times():
    fifteen = random_journeys(15, 200, seed=8)
    assert shapley_values(fifteen).exact is True
    sixteen = random_journeys(16, 200, seed=8)
    default = shapley_values(sixteen)
    assert default.exact is False and default.samples == 2_000
    assert default == shapley_values(sixteen, samples=2_000, seed=0)
    assert default.values != shapley_values(sixteen, samples=2_000, seed=1).values


def test_a_last_journey_without_touches_is_skipped():
    journeys = Journeys.from_paths([["A"], ["A", "B"], []], converted=[True, True, False])

    assert shapley_values(journeys).values == pytest.approx({"A": 1.5, "B": 0.5})
    assert shapley_values(journeys, exact_limit=0, samples=10).values["A"] >= 1


def test_refusals_say_what_to_do():
    with pytest.raises(ValueError, match=r"got 65; group rare channels together first$"):
        shapley_values(Journeys.from_paths([[f"ch{i}"] for i in range(65)]))
    with pytest.raises(
        ValueError,
        match=r"^1 converting journeys have no touch; give each at least one "
        r"\(a conversion with no marketing contact is a Direct touch\)$",
    ):
        shapley_values(Journeys.from_paths([["A"], []], converted=[True, True]))
