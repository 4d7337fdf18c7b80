"""Markov chain attribution: credit each channel by its removal effect. Pure: NumPy, SciPy.

Every journey is read as a walk through an absorbing Markov chain: START, then one state
per touch, then CONVERSION (if the journey converted) or NULL. Transition probabilities
are the observed transition counts of all journeys, row-normalised. A channel's removal
effect is the share of the probability of reaching CONVERSION from START that is lost
when every transition into a state holding that channel goes to NULL instead:

    RE(c) = 1 - P(conversion | c removed) / P(conversion)

Probabilities are solved exactly from the chain, never simulated, so the same journeys
always give the same credit.

States. For order 1 a state is the channel of a touch. For order k > 1 it is the tuple
of the last k channels up to and including the touch; at the start of a path, where
fewer than k channels have been seen, it is the shorter prefix (touches A, B, C at
order 2 are the states (A), (A, B), (B, C)). This is meant to match ChannelAttribution's
higher-order states (not checked against its output): no padding state is invented, and
a path shorter than k is still a walk of its own.
Repeated touches of one channel stay in the path (A, A is a self-loop on A at order 1).
Only states that occur in the data are part of the chain. Journeys without touches say
nothing about channels: they are left out of the chain and of the credit (N and V below
count the converting journeys with at least one touch).

Two allocations of the same removal effects, with weights w_c = RE(c) / sum(RE):

- `markov` (the standard one, as ChannelAttribution's `markov_model` and Anderl et al.
  2016 credit channels): channel c is credited N x w_c of the goal's N conversions and
  V x w_c of their value V. Read per journey, every converting journey credits w_c to
  every channel c, whether or not it touched c (`MarkovCredit.by_journey`): so both
  totals are exactly the standard ones, and a channel's value per conversion is the
  goal's average. A channel can thus be credited for conversions of journeys it was not
  in: the chain joins paths of different journeys.
- `markov_journey` (`markov_journey_shares`): each converting journey's one conversion
  is shared among the channels it touched in proportion to their weights. A journey's
  credits sum to its conversion and value and stay on the channels it touched, which is
  what per-customer and per-campaign figures need; channel totals are not the standard
  ones.

Within a journey a channel's part is split evenly over its touches. Should every channel
of a converting journey weigh 0 (only possible through rounding), its conversion is split
evenly over its touches.

Worked example (three channels, solved by hand in tests/attribution/test_markov.py):
A > B converts for 10, A > C does not convert, B converts for 20, C > A converts for 40.
RE = A 2/3, B 2/3, C 2/9, so w = 3/7, 3/7, 1/7; N = 3, V = 70.

    channel   markov: N w, V w      markov_journey (per journey, then summed)
    A         9/7 = 1.29, 30        A > B: 1/2;  C > A: 3/4      -> 5/4, 5 + 30 = 35
    B         9/7 = 1.29, 30        A > B: 1/2;  B: 1            -> 3/2, 5 + 20 = 25
    C         3/7 = 0.43, 10        C > A: 1/4                   -> 1/4, 10

Standard credit on touches. A run stores credit per touch (per channel and campaign),
and a touch credits only its own channel, so `markov_shares` carries each channel's
standard totals on its own touches of converting journeys: markov_journey's shares of
c's touches, scaled by alpha_c on journeys worth at most the average conversion m = V / N
and by beta_c on those worth more, solved so that c's conversions are N w_c and its value
V w_c. Both factors are >= 0 because the journeys worth at most m average at most m and
the others more; campaigns within a channel follow the channel's total. Such shares do
not sum to 1 per journey (a customer's figures come from markov_journey), but in all
they credit exactly N conversions and V of value. They carry every channel's standard
totals exactly when each credited channel's converting journeys are worth both at most
and more than m, or all exactly m: always for a goal whose conversions are worth the
same, and for every channel of the demo and the benchmark. Otherwise no shares >= 0 on
c's touches can (in the example B's journeys are worth 10 and 20, both under m = 23.33,
yet B's standard value is 30; a channel the chain credits without any converting touch
has nowhere to go), and the factors are those whose channel totals come closest to the
standard ones (least squares, relative to N and V) while the totals stay exactly N and
V; `MarkovCredit.touch_conversions` / `touch_value` say what the touches then carry,
`conversions` / `value` stay the standard figures.

`value_removal_effects` is the same removal with each conversion counted at its value
(ChannelAttribution's `removal_effects_conversion_value`, by which its
`total_conversion_value` is split when given `var_value`); the standard allocation above
splits value by the conversion removal effects, as the conversions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import minimize

if TYPE_CHECKING:  # scipy-stubs' name for what `constraints=` takes (no runtime module)
    from scipy.optimize._typing import Constraint

from attribution.engine.journeys import Journeys

# Largest number of transient states solved with a dense np.linalg.solve; a dense system
# of 3,000 states is 72 MB and solves in under a second. Above it the chain is solved by
# Jacobi iteration over its observed transitions (one method per chain, so the removals
# are compared like for like).
DENSE_STATE_LIMIT = 3_000
# Jacobi stops once no state's conversion probability moves by more than this, nor is
# expected to move by more than this in all the sweeps still to come...
ITERATION_TOLERANCE = 1e-12
# ...and gives up (raising) after this many sweeps rather than return a rough answer.
MAX_ITERATIONS = 100_000
# States and transitions are integer keys below a known bound; they are counted with
# np.bincount over every possible key (no sort) unless the bound exceeds this many keys
# per counted value (plus a floor for small data), where np.unique's sort uses less memory.
DENSE_KEYS_PER_VALUE = 4
DENSE_KEYS_FLOOR = 1 << 16
# Touches of the same channel in the same journey are counted this many journey-channel
# keys at a time, so the counts stay small whatever the number of journeys.
REPEAT_BLOCK_KEYS = 1 << 20
# Touches carry a channel's standard credit exactly when they miss it by at most this
# much relative to it (rounding); otherwise the closest shares are searched for.
EXACT_TOLERANCE = 1e-9

ORDERS = (1, 2, 3)


@dataclass(frozen=True)
class _Chain:
    """The transient part of an absorbing chain; state 0 is START, states 1.. are touches.

    `source`, `target`, `probability` are the transient-to-transient transitions (Q as
    coordinates); `to_conversion[s]` is the probability of moving from s to CONVERSION
    (the CONVERSION column of R; the NULL column is never needed) and
    `value_to_conversion[s]` the same with each conversion counted at its value.
    `contains[c, s]` says whether state s holds channel c (START holds none)."""

    size: int
    source: np.ndarray
    target: np.ndarray
    probability: np.ndarray
    to_conversion: np.ndarray
    value_to_conversion: np.ndarray
    contains: np.ndarray


@dataclass(frozen=True)
class MarkovCredit:
    """The standard Markov allocation of one goal's journeys (see the module docstring).

    Arrays are per channel, in `channels` order, except `touch_shares` (per touch)."""

    channels: tuple[str, ...]
    removal_effects: np.ndarray  # RE(c)
    weights: np.ndarray  # RE(c) / sum(RE); all 0 when nothing converted
    conversions: np.ndarray  # N x w_c
    value: np.ndarray  # V x w_c
    touch_shares: np.ndarray  # the standard totals carried on touches (markov_shares)
    touch_conversions: np.ndarray  # what touch_shares credit: `conversions` if they can
    touch_value: np.ndarray  # what touch_shares credit: `value` if they can

    @property
    def carried_exactly(self) -> bool:
        """Whether the touches carry every channel's standard totals (see the module
        docstring for when they cannot)."""
        return _close(self.touch_conversions, self.conversions) and _close(
            self.touch_value, self.value
        )

    def by_journey(self, journeys: Journeys) -> np.ndarray:
        """journeys x channels: each converting journey (with touches) credits w_c to
        every channel c, the others nothing. Column sums are `conversions`; weighted by
        the journeys' values, `value`. (Dense: journeys x channels floats.)"""
        counted = journeys.converted & (journeys.lengths > 0)
        return np.outer(counted, self.weights)


def removal_effects(journeys: Journeys, *, order: int = 1) -> dict[str, float]:
    """Each channel's removal effect, 1 - P(conversion without it) / P(conversion).

    0 for every channel when no journey converted (there is nothing to remove)."""
    effects = _removal_effects(_build_chain(journeys, order))
    return {name: float(effect) for name, effect in zip(journeys.channels, effects, strict=True)}


def value_removal_effects(journeys: Journeys, *, order: int = 1) -> dict[str, float]:
    """Each channel's removal effect on the expected conversion value: the chain as for
    `removal_effects`, each move into CONVERSION worth the value of the conversions
    that made it (so a state's conversions are worth their mean value there)."""
    chain = _build_chain(journeys, order)
    effects = _removal_effects(chain, reward=chain.value_to_conversion)
    return {name: float(effect) for name, effect in zip(journeys.channels, effects, strict=True)}


def conversion_probability(
    journeys: Journeys, *, order: int = 1, removed: str | None = None
) -> float:
    """The chain's probability of reaching CONVERSION from START, optionally with one
    channel removed (every transition into a state holding it goes to NULL)."""
    chain = _build_chain(journeys, order)
    if removed is None:
        return float(_solve(chain, np.ones(chain.size, dtype=bool))[0])
    if removed not in journeys.channels:
        raise ValueError(f"removed: unknown channel {removed!r}")
    keep = ~chain.contains[journeys.channels.index(removed)]
    return float(_solve(chain, keep)[0])


def markov_credit(journeys: Journeys, *, order: int = 1) -> MarkovCredit:
    """The standard allocation: each channel's removal effect, weight, conversions and
    value (N w_c, V w_c), and those totals carried on touches (see the module docstring)."""
    effects = _removal_effects(_build_chain(journeys, order))
    weights = _weights(effects)
    counted = journeys.converted & (journeys.lengths > 0)
    conversions = float(np.count_nonzero(counted)) * weights
    value = float(journeys.value[counted].sum()) * weights
    shares = _place_on_touches(journeys, _distribute(journeys, weights), conversions, value)
    journey = journeys.journey_of_touch()
    n = len(journeys.channels)
    return MarkovCredit(
        channels=journeys.channels,
        removal_effects=effects,
        weights=weights,
        conversions=conversions,
        value=value,
        touch_shares=shares,
        touch_conversions=np.bincount(journeys.touches, weights=shares, minlength=n),
        touch_value=np.bincount(
            journeys.touches, weights=shares * journeys.value[journey], minlength=n
        ),
    )


def markov_shares(journeys: Journeys, *, order: int = 1) -> np.ndarray:
    """The `markov` model: one share per touch (float64) carrying each channel's
    standard credit, N w_c conversions and V w_c value, on its touches of converting
    journeys; 0 on journeys that did not convert. A journey's shares need not sum to 1;
    in all they credit exactly the conversions and their value."""
    return markov_credit(journeys, order=order).touch_shares


def markov_journey_shares(journeys: Journeys, *, order: int = 1) -> np.ndarray:
    """The `markov_journey` model: one share per touch (float64); for each converting
    journey its touches' shares sum to 1, split by the removal-effect weights of the
    channels it touched; 0 for a journey that did not convert."""
    effects = _removal_effects(_build_chain(journeys, order))
    return _distribute(journeys, _weights(effects))


def _check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order not in ORDERS:
        raise ValueError(f"order: must be 1, 2 or 3, got {order!r}")


def _touch_positions(journeys: Journeys) -> np.ndarray:
    """Each touch's 0-based position within its journey."""
    lengths = journeys.lengths
    positions: np.ndarray = np.arange(len(journeys.touches), dtype=np.int64) - np.repeat(
        journeys.offsets[:-1], lengths
    )
    return positions


def _state_codes(journeys: Journeys, order: int) -> np.ndarray:
    """One integer per touch naming its state: the last `order` channels (fewer at the
    start of a path) as base-(channels + 1) digits, the touch's own channel lowest.
    Digit 0 means "no channel", so prefixes of different lengths never collide."""
    base = np.int64(len(journeys.channels) + 1)
    if order > 1 and float(base) ** order >= 2.0**62:
        raise ValueError(f"order: too many channels ({base - 1}) for order {order}")
    touches = journeys.touches.astype(np.int64)
    codes = touches + 1
    if order == 1:
        return codes
    positions = _touch_positions(journeys)
    for lag in range(1, order):
        earlier = np.zeros_like(codes)
        earlier[lag:] = touches[:-lag] + 1
        codes += np.where(positions >= lag, earlier, 0) * base**lag
    return codes


def _fits_bincount(bound: int, values: np.ndarray) -> bool:
    return bound <= DENSE_KEYS_PER_VALUE * len(values) + DENSE_KEYS_FLOOR


def _number_states(codes: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct state codes (all below `bound`) in increasing order, and each touch's
    state: 1 + the rank of its code, as 0 is START."""
    if not _fits_bincount(bound, codes):
        distinct, rank = np.unique(codes, return_inverse=True)
        return distinct, rank.astype(np.int64) + 1
    seen = np.bincount(codes, minlength=bound) > 0
    return np.flatnonzero(seen), np.cumsum(seen)[codes]


def _count_keys(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_counts=True) for integer keys in [0, bound)."""
    if not _fits_bincount(bound, keys):
        return np.unique(keys, return_counts=True)
    counts = np.bincount(keys, minlength=bound)
    distinct = np.flatnonzero(counts)
    return distinct, counts[distinct]


def _build_chain(journeys: Journeys, order: int) -> _Chain:
    _check_order(order)
    n_channels = len(journeys.channels)
    base = n_channels + 1
    codes, state = _number_states(_state_codes(journeys, order), base**order)
    size = len(codes) + 1
    conversion, null = size, size + 1

    lengths = journeys.lengths
    nonempty = lengths > 0
    # Every touch is entered from the previous touch of its journey, or from START.
    previous = np.empty_like(state)
    previous[1:] = state[:-1]
    previous[journeys.offsets[:-1][nonempty]] = 0
    # Every journey with touches leaves its last touch for CONVERSION or NULL.
    last = state[journeys.offsets[1:][nonempty] - 1]
    end = np.where(journeys.converted[nonempty], conversion, null)

    width = size + 2
    keys = np.concatenate([previous * width + state, last * width + end])
    pairs, counts = _count_keys(keys, size * width)
    source, target = pairs // width, pairs % width
    leaving = np.bincount(source, weights=counts, minlength=size)
    probability = counts / leaving[source]

    to_conversion = np.zeros(size)
    into_conversion = target == conversion
    to_conversion[source[into_conversion]] = probability[into_conversion]
    # Per state, the value of the conversions that left it, over all moves out of it.
    converted = journeys.converted[nonempty]
    value_out = np.bincount(
        last[converted], weights=journeys.value[nonempty][converted], minlength=size
    )
    value_to_conversion = np.divide(value_out, leaving, out=np.zeros(size), where=leaving > 0)
    transient = target < size

    contains = np.zeros((n_channels, size), dtype=bool)
    rest = codes.copy()
    for _ in range(order):
        digit = rest % base
        present = digit > 0
        contains[digit[present] - 1, np.flatnonzero(present) + 1] = True
        rest //= base
    return _Chain(
        size,
        source[transient],
        target[transient],
        probability[transient],
        to_conversion,
        value_to_conversion,
        contains,
    )


def _removal_effects(chain: _Chain, *, reward: np.ndarray | None = None) -> np.ndarray:
    """RE of every channel: 1 - (what START reaches without it) / (what START reaches),
    where what is reached is the CONVERSION probability, or `reward` (per state, the
    expected amount gained on moving to CONVERSION) when given. 0s when nothing is."""
    everything = np.ones(chain.size, dtype=bool)
    base = float(_solve(chain, everything, reward)[0])
    if base <= 0:
        return np.zeros(len(chain.contains))
    without = np.array([float(_solve(chain, ~held, reward)[0]) for held in chain.contains])
    # Removing a channel can only lower what is reached; clip rounding below 0.
    return np.clip(1.0 - without / base, 0.0, 1.0)


def _weights(effects: np.ndarray) -> np.ndarray:
    total = effects.sum()
    return effects / total if total > 0 else effects


def _solve(chain: _Chain, keep: np.ndarray, reward: np.ndarray | None = None) -> np.ndarray:
    """Probability of absorption in CONVERSION from every kept state (0 for the others);
    with `reward`, the expected reward collected on the way into CONVERSION instead.

    Dropping a state is the removal: transitions into it lead nowhere that converts,
    exactly as if they were redirected to NULL. Solves (I - Q) x = r over the kept
    states, which is the CONVERSION column of B = (I - Q)^-1 R."""
    if not keep[0] or chain.size == 1:
        return np.zeros(chain.size)
    edge = keep[chain.source] & keep[chain.target]
    source, target, probability = chain.source[edge], chain.target[edge], chain.probability[edge]
    r = np.where(keep, chain.to_conversion if reward is None else reward, 0.0)
    if chain.size <= DENSE_STATE_LIMIT:
        return _solve_dense(keep, source, target, probability, r)
    return _solve_iteratively(chain.size, source, target, probability, r)


def _solve_dense(
    keep: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    probability: np.ndarray,
    r: np.ndarray,
) -> np.ndarray:
    index = np.full(len(keep), -1, dtype=np.int64)
    kept = np.flatnonzero(keep)
    index[kept] = np.arange(len(kept))
    system = np.eye(len(kept))
    # Each (source, target) pair occurs once, so a plain assignment is the sum.
    system[index[source], index[target]] -= probability
    x = np.zeros(len(keep))
    x[kept] = np.linalg.solve(system, r[kept])
    return x


def _solve_iteratively(
    size: int, source: np.ndarray, target: np.ndarray, probability: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """Jacobi iteration on (I - Q) x = r from x = 0: the iterates rise monotonically to
    the solution, and stop once they are within ITERATION_TOLERANCE of it (estimated
    from how fast the changes shrink). Self-loops (a channel touched twice running) are
    solved in closed form, x_s = (r_s + sum_{t != s} q_st x_t) / (1 - q_ss), which
    converges much faster than plain power iteration when repeats are common."""
    loop = source == target
    stay = np.bincount(source[loop], weights=probability[loop], minlength=size)
    scale = 1.0 / (1.0 - stay)
    source, target, probability = source[~loop], target[~loop], probability[~loop]
    x = np.zeros(size)
    previous = np.inf
    for _ in range(MAX_ITERATIONS):
        new = (r + np.bincount(source, weights=probability * x[target], minlength=size)) * scale
        change = float(np.max(np.abs(new - x)))
        x = new
        # The changes shrink geometrically by `ratio`, so what is still to come is about
        # change * ratio / (1 - ratio); a small change alone can stop a slow chain early.
        ratio = change / previous if previous > 0 else 0.0
        previous = change
        if change == 0 or (
            change < ITERATION_TOLERANCE
            and ratio < 1
            and change * ratio < ITERATION_TOLERANCE * (1 - ratio)
        ):
            return x
    raise RuntimeError(
        f"markov: conversion probabilities did not converge in {MAX_ITERATIONS} iterations"
    )


def _distribute(journeys: Journeys, weights: np.ndarray) -> np.ndarray:
    """Per-touch shares from channel weights (see the module docstring)."""
    if len(journeys.touches) == 0:
        return np.zeros(0)
    journey = journeys.journey_of_touch()
    # w_c / n_c per touch; dividing by the journey's sum below turns it into
    # w_c / (sum of w over the journey's channels) / n_c, summing to 1 per journey.
    shares = weights[journeys.touches] / _repeats(journeys, journey)
    sums = np.bincount(journey, weights=shares, minlength=journeys.count)
    # Weights are never negative, so a journey with touches sums to 0 only if every one
    # weighs 0; its touches then count 1 each.
    unweighed = (sums == 0) & (journeys.lengths > 0)
    if unweighed.any():
        shares = np.where(unweighed[journey], 1.0, shares)
        sums = np.where(unweighed, journeys.lengths, sums)
    return np.where(journeys.converted[journey], shares / sums[journey], 0.0)


def _repeats(journeys: Journeys, journey: np.ndarray) -> np.ndarray:
    """For each touch, how many touches of its journey have its channel (itself included).

    Counted per block of journeys, on keys journey * channels + channel within the block."""
    n_channels = len(journeys.channels)
    repeats = np.empty(len(journeys.touches), dtype=np.int64)
    block = max(1, REPEAT_BLOCK_KEYS // n_channels)
    for first in range(0, journeys.count, block):
        stop = min(first + block, journeys.count)
        a, b = journeys.offsets[first], journeys.offsets[stop]
        keys = (journey[a:b] - first) * n_channels + journeys.touches[a:b]
        repeats[a:b] = np.bincount(keys, minlength=(stop - first) * n_channels)[keys]
    return repeats


def _place_on_touches(
    journeys: Journeys, journey_shares: np.ndarray, conversions: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """markov_journey's `journey_shares` rescaled per channel so that its touches carry
    `conversions` and `value` (see the module docstring)."""
    n = len(journeys.channels)
    if len(journeys.touches) == 0:
        return np.zeros(0)
    journey = journeys.journey_of_touch()
    counted = journeys.converted & (journeys.lengths > 0)
    total = float(journeys.value[counted].sum())
    mean = total / np.count_nonzero(counted) if counted.any() else 0.0
    worth = journeys.value[journey]
    # One group per channel and side of the mean: key c (worth at most the mean) or n + c.
    keys = journeys.touches.astype(np.int64) + np.where(worth > mean, n, 0)
    count = np.bincount(keys, weights=journey_shares, minlength=2 * n)
    count_value = np.bincount(keys, weights=journey_shares * worth, minlength=2 * n)
    factors = _exact_factors(count, count_value, conversions, value)
    if factors is None:
        factors = _closest_factors(count, count_value, conversions, value)
    shares: np.ndarray = journey_shares * factors[keys]
    return shares


def _exact_factors(
    count: np.ndarray, count_value: np.ndarray, conversions: np.ndarray, value: np.ndarray
) -> np.ndarray | None:
    """alpha_c (low groups), then beta_c (high groups) giving every channel exactly its
    `conversions` and `value`; None if some channel's touches cannot."""
    n = len(conversions)
    low, high = count[:n], count[n:]
    low_value, high_value = count_value[:n], count_value[n:]
    both = (low > 0) & (high > 0)
    # alpha low + beta high = conversions, alpha low_value + beta high_value = value; the
    # determinant is > 0 as the high touches' mean value exceeds the low ones'.
    det = np.where(both, low * high_value - high * low_value, 1.0)
    alpha = np.where(both, (conversions * high_value - value * high) / det, 0.0)
    beta = np.where(both, (value * low - conversions * low_value) / det, 0.0)
    # One side only: one factor, exact only if it gives both (its touches average the mean).
    some = low + high
    single = np.divide(conversions, some, out=np.zeros(n), where=some > 0)
    one_side = ~both & (some > 0)
    alpha = np.where(one_side, single, alpha)
    beta = np.where(one_side, single, beta)
    alpha, beta = np.clip(alpha, 0.0, None), np.clip(beta, 0.0, None)
    placed = alpha * low + beta * high
    placed_value = alpha * low_value + beta * high_value
    if not (_close(placed, conversions) and _close(placed_value, value)):
        return None
    return np.concatenate([alpha, beta])


def _closest_factors(
    count: np.ndarray, count_value: np.ndarray, conversions: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """Group factors >= 0 whose channel totals come closest to `conversions` and `value`
    (least squares relative to N and V) while crediting exactly N and V in all."""
    n = len(conversions)
    total, total_value = float(count.sum()), float(count_value.sum())
    scale, scale_value = max(total, 1e-300), max(total_value, 1e-300)
    groups = np.flatnonzero(count > 0)
    channel = groups % n
    a, av = count[groups], count_value[groups]

    def objective(f: np.ndarray) -> tuple[float, np.ndarray]:
        gap = (np.bincount(channel, weights=f * a, minlength=n) - conversions) / scale
        gap_value = (np.bincount(channel, weights=f * av, minlength=n) - value) / scale_value
        gradient = 2 * (gap[channel] * a / scale + gap_value[channel] * av / scale_value)
        return float(gap @ gap + gap_value @ gap_value), gradient

    def count_gap(f: np.ndarray) -> float:
        return float((f @ a - total) / scale)

    def count_slope(f: np.ndarray) -> np.ndarray:
        slope: np.ndarray = a / scale
        return slope

    def value_gap(f: np.ndarray) -> float:
        return float((f @ av - total_value) / scale_value)

    def value_slope(f: np.ndarray) -> np.ndarray:
        slope: np.ndarray = av / scale_value
        return slope

    high = groups >= n
    constraints: list[Constraint] = [{"type": "eq", "fun": count_gap, "jac": count_slope}]
    # With no touch worth more than the mean every touch is worth the mean, and the value
    # total follows from the count.
    if high.any():
        constraints.append({"type": "eq", "fun": value_gap, "jac": value_slope})
    # Factors of 1 are the journey split itself: exact totals, the start of the search,
    # and what is kept should the search fail.
    result = minimize(
        objective,
        np.ones(len(groups)),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, None)] * len(groups),
        constraints=constraints,
        options={"ftol": 1e-15, "maxiter": 1_000},
    )
    found = np.clip(result.x, 0.0, None) if result.success else np.ones(len(groups))
    factors = np.zeros(2 * n)
    factors[groups] = found
    # Make the two totals exact again: one more factor for the low groups, one for the
    # high ones (both close to 1); a single one when no touch is worth more than the mean.
    if high.any() and (~high).any():
        system = np.array(
            [
                [found[~high] @ a[~high], found[high] @ a[high]],
                [found[~high] @ av[~high], found[high] @ av[high]],
            ]
        )
        low_fix, high_fix = np.linalg.solve(system, [total, total_value])
        factors[groups] *= np.where(high, high_fix, low_fix)
    elif found @ a > 0:
        factors[groups] *= total / (found @ a)
    return factors


def _close(placed: np.ndarray, target: np.ndarray) -> bool:
    return bool(np.all(np.abs(placed - target) <= EXACT_TOLERANCE * np.maximum(target, 1.0)))
