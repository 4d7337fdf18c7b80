"""The rule-based attribution models. Pure: NumPy only, vectorised over all journeys.

Each takes `Journeys` and returns one share per touch; the shares of a converting
journey sum to exactly 1, a non-converting journey's are 0 (see journeys.py).
"""

from __future__ import annotations

import numpy as np

from attribution.engine.journeys import Journeys

DAY = 86_400.0


def _check(journeys: Journeys) -> None:
    empty = (journeys.lengths == 0) & journeys.converted
    if empty.any():
        raise ValueError(
            f"{int(empty.sum())} converting journeys have no touch; give each at least one "
            "(a conversion with no marketing contact is a Direct touch)"
        )


def _per_journey(journeys: Journeys, weights: np.ndarray) -> np.ndarray:
    """Weights normalised to sum to 1 within each converting journey; 0 elsewhere."""
    starts = journeys.offsets[:-1]
    has_touches = journeys.lengths > 0
    totals = np.zeros(journeys.count)
    if len(weights):
        totals[has_touches] = np.add.reduceat(weights, starts[has_touches])
    journey = journeys.journey_of_touch()
    total = totals[journey]
    shares = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
    credit: np.ndarray = shares * journeys.converted[journey]
    return credit


def first_touch(journeys: Journeys) -> np.ndarray:
    _check(journeys)
    weights = np.zeros(len(journeys.touches))
    weights[journeys.offsets[:-1][journeys.lengths > 0]] = 1.0
    return _per_journey(journeys, weights)


def last_touch(journeys: Journeys) -> np.ndarray:
    _check(journeys)
    weights = np.zeros(len(journeys.touches))
    weights[journeys.offsets[1:][journeys.lengths > 0] - 1] = 1.0
    return _per_journey(journeys, weights)


def last_non_direct(journeys: Journeys, *, direct: str = "Direct") -> np.ndarray:
    """The last touch that is not Direct; a journey of Direct touches only credits its
    last one (as GA4 does)."""
    _check(journeys)
    if direct not in journeys.channels:
        return last_touch(journeys)
    is_direct = journeys.touches == journeys.channels.index(direct)
    position = np.arange(len(journeys.touches))
    journey = journeys.journey_of_touch()
    # The highest position of a non-direct touch per journey, -1 when there is none.
    candidate = np.where(is_direct, -1, position)
    best = np.full(journeys.count, -1)
    np.maximum.at(best, journey, candidate)
    last = journeys.offsets[1:] - 1
    chosen = np.where(best >= 0, best, last)[journeys.lengths > 0]
    weights = np.zeros(len(journeys.touches))
    weights[chosen] = 1.0
    return _per_journey(journeys, weights)


def linear(journeys: Journeys) -> np.ndarray:
    _check(journeys)
    return _per_journey(journeys, np.ones(len(journeys.touches)))


def time_decay(journeys: Journeys, *, half_life_days: float = 7.0) -> np.ndarray:
    """Weight 2^(-age / half-life) of each touch's age before the conversion."""
    _check(journeys)
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    # Relative to the journey's most recent touch, so that old journeys do not underflow.
    journey = journeys.journey_of_touch()
    youngest = np.full(journeys.count, np.inf)
    np.minimum.at(youngest, journey, journeys.ages)
    relative = journeys.ages - youngest[journey]
    return _per_journey(journeys, np.exp2(-relative / (half_life_days * DAY)))


def position_based(journeys: Journeys, *, first: float = 0.4, last: float = 0.4) -> np.ndarray:
    """`first` to the first touch, `last` to the last, the rest split over the middle
    ones; one touch takes all, two touches split evenly (the middle share having no
    touch to go to)."""
    _check(journeys)
    if first < 0 or last < 0 or first + last > 1:
        raise ValueError("first and last must be non-negative and sum to at most 1")
    lengths = journeys.lengths
    journey = journeys.journey_of_touch()
    position = np.arange(len(journeys.touches)) - journeys.offsets[:-1][journey]
    length = lengths[journey]
    middle = (1.0 - first - last) / np.maximum(length - 2, 1)
    weights = np.where(position == 0, first, np.where(position == length - 1, last, middle))
    weights = np.where(length == 1, 1.0, weights)
    weights = np.where(length == 2, 0.5, weights)
    return _per_journey(journeys, weights)


MODELS = {
    "first_touch": first_touch,
    "last_touch": last_touch,
    "last_non_direct": last_non_direct,
    "linear": linear,
    "time_decay": time_decay,
    "position_based": position_based,
}
