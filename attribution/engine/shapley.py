"""Shapley-value attribution over channel coalitions. Pure: NumPy only.

The game (Zhao et al. 2018, "Shapley value methods for attribution modeling in online
advertising", and the usual marketing implementation): the worth of a coalition S of
channels is the number of converting journeys whose set of channels is a subset of S,

    v(S) = #{converting journey j : channels(j) ⊆ S},

so v(all channels) is the number of conversions and v(∅) = 0. A channel's Shapley value
is its average marginal contribution v(S ∪ {i}) - v(S) over all orders in which the
channels could join; the values add up to the conversions (efficiency), a channel seen
only in journeys that did not convert gets 0 (null player), and interchangeable channels
get the same (symmetry).

The allocation: the `shapley` model credits each channel exactly its Shapley value in
conversions, and in value its Shapley value of the same game with each converting
journey worth its value (v(S) = the value of the converting journeys whose channels lie
in S). v is a sum of one unanimity game per converting journey, so both values are each
conversion (and its value) split evenly over its journey's distinct channels — Zhao et
al.'s simplified formula; `shapley_shares` computes that closed form (exact for any
number of channels, and per journey, so campaign and customer figures add up to the
channel's), then splits a channel's part evenly over its touches in the journey. E.g.
A > B > A converting for 90: A and B get 1/2 each (45), A's half as 1/4 on each touch.

`shapley_values` computes the values from the game itself, by the textbook formula:
up to `exact_limit` channels every coalition is enumerated as a bitmask; beyond that the
values are estimated from random orders and come with a standard error. The tests check
the closed form against it, and benchmarks/attribution.py against a reference package.
Channel sets are 64-bit masks, so at most 64 channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attribution.engine.journeys import Journeys

MAX_CHANNELS = 64
# 2^20 coalitions is 8 MiB per array; enumerating more is slower than sampling.
MAX_EXACT_CHANNELS = 20
# Set members times random orders compared at once when sampling (bounds memory).
_SAMPLE_BLOCK = 1 << 22


@dataclass(frozen=True)
class ShapleyResult:
    values: dict[str, float]  # channel -> Shapley value, in conversions
    exact: bool  # every coalition enumerated (False: estimated from random orders)
    standard_errors: dict[str, float]  # of each estimate; zeros when exact
    samples: int  # random orders drawn; 0 when exact


def shapley_values(
    journeys: Journeys, *, exact_limit: int = 15, samples: int = 2000, seed: int = 0
) -> ShapleyResult:
    """Each channel's Shapley value in conversions: exact up to `exact_limit` channels,
    otherwise the mean marginal contribution over `samples` random channel orders drawn
    with `seed` (the estimates still add up exactly to the conversions)."""
    n = len(journeys.channels)
    _check(journeys)
    if not 0 <= exact_limit <= MAX_EXACT_CHANNELS:
        raise ValueError(f"exact_limit must be between 0 and {MAX_EXACT_CHANNELS}")
    masks = _channel_masks(journeys)[journeys.converted]
    if n <= exact_limit:
        values = _exact(masks, n)
        errors = np.zeros(n)
        drawn = 0
        exact = True
    else:
        if samples < 2:
            raise ValueError("samples must be at least 2 to state a standard error")
        values, errors = _sampled(masks, n, samples=samples, seed=seed)
        drawn = samples
        exact = False
    return ShapleyResult(
        values={c: float(v) for c, v in zip(journeys.channels, values, strict=True)},
        exact=exact,
        standard_errors={c: float(e) for c, e in zip(journeys.channels, errors, strict=True)},
        samples=drawn,
    )


def shapley_shares(journeys: Journeys) -> np.ndarray:
    """The `shapley` model: one share per touch. A converting journey's conversion is
    split evenly over its distinct channels (each channel's Shapley value, see the module
    docstring), and a channel's part evenly over its touches in that journey; 0 for a
    journey that did not convert."""
    _check(journeys)
    n = len(journeys.channels)
    journey = journeys.journey_of_touch()
    touches = journeys.touches.astype(np.int64)
    # How many touches of its channel the touch's journey has, and how many distinct
    # channels the journey has.
    _, inverse, counts = np.unique(journey * n + touches, return_inverse=True, return_counts=True)
    repeats = counts[inverse]
    distinct = np.bincount(journey, weights=1.0 / repeats, minlength=journeys.count)
    credit: np.ndarray = journeys.converted[journey] / (repeats * distinct[journey])
    return credit


def _check(journeys: Journeys) -> None:
    n = len(journeys.channels)
    if n > MAX_CHANNELS:
        raise ValueError(
            f"Shapley attribution handles at most {MAX_CHANNELS} channels, got {n}; "
            "group rare channels together first"
        )
    empty = (journeys.lengths == 0) & journeys.converted
    if empty.any():
        raise ValueError(
            f"{int(empty.sum())} converting journeys have no touch; give each at least one "
            "(a conversion with no marketing contact is a Direct touch)"
        )


def _channel_masks(journeys: Journeys) -> np.ndarray:
    """Each journey's set of channels as a bitmask (bit i: channel i), uint64."""
    masks = np.zeros(journeys.count, dtype=np.uint64)
    has_touches = journeys.lengths > 0
    if len(journeys.touches):
        bits = np.left_shift(np.uint64(1), journeys.touches.astype(np.uint64))
        masks[has_touches] = np.bitwise_or.reduceat(bits, journeys.offsets[:-1][has_touches])
    return masks


def _exact(masks: np.ndarray, n: int) -> np.ndarray:
    size = 1 << n
    # v(S) for every S: conversions per exact channel set, then summed over subsets
    # (the zeta transform, one pass per bit).
    worth = np.bincount(masks.astype(np.int64), minlength=size).astype(np.float64)
    members = np.zeros(size, dtype=np.int64)  # |S|
    for bit in range(n):
        worth.reshape(-1, 2, 1 << bit)[:, 1, :] += worth.reshape(-1, 2, 1 << bit)[:, 0, :]
        members.reshape(-1, 2, 1 << bit)[:, 1, :] += 1
    # Weight |S|! (n - |S| - 1)! / n! of a coalition S that channel i joins.
    weight = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    values = np.zeros(n)
    for bit in range(n):
        without = worth.reshape(-1, 2, 1 << bit)[:, 0, :]
        with_ = worth.reshape(-1, 2, 1 << bit)[:, 1, :]
        size_without = members.reshape(-1, 2, 1 << bit)[:, 0, :]
        values[bit] = np.sum(weight[size_without] * (with_ - without))
    return values


def _sampled(
    masks: np.ndarray, n: int, *, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of each channel's marginal contribution over random orders.

    Along one order, a converting journey first counts towards v when the last of its
    channels joins, so that channel's marginal contribution is the number of journeys it
    completes: each distinct channel set, weighted by its journeys, goes to its member
    that comes latest in the order. Every order's contributions thus add up to v(all)."""
    sets, counts = np.unique(masks, return_counts=True)
    bits = ((sets[:, None] >> np.arange(n, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    # The sets' members, set by set: set s holds member[first[s]:first[s + 1]].
    owner, member = np.nonzero(bits)
    first = np.searchsorted(owner, np.arange(len(sets)))
    rng = np.random.default_rng(seed)
    # channel_at[p, k]: the channel in position k of order p.
    channel_at = rng.permuted(np.tile(np.arange(n, dtype=np.int8), (samples, 1)), axis=1)
    contributions = np.zeros((samples, n))
    block = max(1, _SAMPLE_BLOCK // max(1, len(member)))
    for start in range(0, samples, block):
        orders = channel_at[start : start + block]
        k = len(orders)
        position = np.argsort(orders, axis=1).astype(np.int8)  # [p, c]: where c comes
        # Per set and order: the latest position of a member, then the channel there.
        latest = np.zeros((len(sets), k), dtype=np.int8)
        if len(member):
            latest = np.maximum.reduceat(position.T[member], first, axis=0)
        completer = np.take_along_axis(orders.T, latest.astype(np.intp), axis=0)
        slot = (completer.astype(np.intp) * k + np.arange(k)).ravel()
        contributions[start : start + k] = (
            np.bincount(slot, weights=np.repeat(counts.astype(np.float64), k), minlength=n * k)
            .reshape(n, k)
            .T
        )
    values = contributions.mean(axis=0)
    errors = contributions.std(axis=0, ddof=1) / math.sqrt(samples)
    return values, errors
