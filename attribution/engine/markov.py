"""Markov chain attribution: credit each channel by its removal effect. Pure: NumPy only.

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
nothing about channels and are left out of the chain.

Credit. Channel weights are w_c = RE(c) / sum(RE). A converting journey's one
conversion is shared among the channels it touched in proportion to their weights, and
a channel's part is split evenly over its touches in that journey. Should every channel
of a converting journey have weight 0 (only possible through rounding), the conversion
is split evenly over its touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

ORDERS = (1, 2, 3)


@dataclass(frozen=True)
class _Chain:
    """The transient part of an absorbing chain; state 0 is START, states 1.. are touches.

    `source`, `target`, `probability` are the transient-to-transient transitions (Q as
    coordinates); `to_conversion[s]` is the probability of moving from s to CONVERSION
    (the CONVERSION column of R; the NULL column is never needed).
    `contains[c, s]` says whether state s holds channel c (START holds none)."""

    size: int
    source: np.ndarray
    target: np.ndarray
    probability: np.ndarray
    to_conversion: np.ndarray
    contains: np.ndarray


def removal_effects(journeys: Journeys, *, order: int = 1) -> dict[str, float]:
    """Each channel's removal effect, 1 - P(conversion without it) / P(conversion).

    0 for every channel when no journey converted (there is nothing to remove)."""
    base, without = _conversion_probabilities(_build_chain(journeys, order))
    effects = _effects(base, without)
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


def markov_shares(journeys: Journeys, *, order: int = 1) -> np.ndarray:
    """One share per touch (float64): for each converting journey its touches' shares
    sum to 1, split by the removal-effect weights of the channels it touched; 0 for a
    journey that did not convert."""
    base, without = _conversion_probabilities(_build_chain(journeys, order))
    effects = _effects(base, without)
    total = effects.sum()
    weights = effects / total if total > 0 else effects
    return _distribute(journeys, weights)


def _check_order(order: int) -> None:
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order not in ORDERS:
        raise ValueError(f"order: must be 1, 2 or 3, got {order!r}")


def _touch_positions(journeys: Journeys) -> np.ndarray:
    """Each touch's 0-based position within its journey."""
    lengths = journeys.lengths
    return np.arange(len(journeys.touches), dtype=np.int64) - np.repeat(
        journeys.offsets[:-1], lengths
    )


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
        contains,
    )


def _conversion_probabilities(chain: _Chain) -> tuple[float, np.ndarray]:
    """P(conversion from START), and the same with each channel removed."""
    everything = np.ones(chain.size, dtype=bool)
    base = float(_solve(chain, everything)[0])
    without = np.array([float(_solve(chain, ~held)[0]) for held in chain.contains])
    return base, without


def _effects(base: float, without: np.ndarray) -> np.ndarray:
    if base <= 0:
        return np.zeros_like(without)
    # Removing a channel can only lower the probability; clip rounding below 0.
    return np.clip(1.0 - without / base, 0.0, 1.0)


def _solve(chain: _Chain, keep: np.ndarray) -> np.ndarray:
    """Probability of absorption in CONVERSION from every kept state (0 for the others).

    Dropping a state is the removal: transitions into it lead nowhere that converts,
    exactly as if they were redirected to NULL. Solves (I - Q) x = r over the kept
    states, which is the CONVERSION column of B = (I - Q)^-1 R."""
    if not keep[0] or chain.size == 1:
        return np.zeros(chain.size)
    edge = keep[chain.source] & keep[chain.target]
    source, target, probability = chain.source[edge], chain.target[edge], chain.probability[edge]
    r = np.where(keep, chain.to_conversion, 0.0)
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
