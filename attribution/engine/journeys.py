"""Journeys in columns, the shape every attribution model reads. Pure: NumPy only.

A journey is one profile's marketing touches, in time order, before one conversion (or
before the end of the data, for a journey that did not convert). Journeys are stored as
flat arrays so that a million of them fit in a few arrays and every model is vectorised:
journey `i`'s touches are `touches[offsets[i]:offsets[i + 1]]`.

A model returns one share per touch: for each converting journey the shares of its
touches sum to exactly 1 (so its credits sum to the conversion's count and value); a
non-converting journey's shares are 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Journeys:
    channels: tuple[str, ...]  # channel names; a touch holds an index into this
    offsets: np.ndarray  # int64, len n + 1, offsets[0] == 0
    touches: np.ndarray  # int32 channel index per touch, in time order within a journey
    ages: np.ndarray  # float64 seconds from each touch to the journey's end
    converted: np.ndarray  # bool, len n
    value: np.ndarray  # float64, len n: the conversion's value (0 when not converted)

    @property
    def count(self) -> int:
        return len(self.converted)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def journey_of_touch(self) -> np.ndarray:
        """For each touch, the index of its journey."""
        return np.repeat(np.arange(self.count), self.lengths)

    @classmethod
    def from_paths(
        cls,
        paths: Sequence[Sequence[str]],
        *,
        converted: Sequence[bool] | None = None,
        value: Sequence[float] | None = None,
        ages: Sequence[Sequence[float]] | None = None,
        channels: Sequence[str] | None = None,
    ) -> Journeys:
        """Journeys from lists of channel names (tests, benchmarks, small data).

        Defaults: every journey converted, value 1, touches one day apart ending one day
        before the conversion. `channels` fixes the channel order (default: sorted)."""
        names = (
            tuple(channels)
            if channels is not None
            else tuple(sorted({c for p in paths for c in p}))
        )
        index = {name: i for i, name in enumerate(names)}
        lengths = np.array([len(p) for p in paths], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        touches = np.array([index[c] for p in paths for c in p], dtype=np.int32)
        if ages is None:
            age = [float(86_400 * (len(p) - k)) for p in paths for k in range(len(p))]
        else:
            age = [float(a) for journey in ages for a in journey]
        conv = np.ones(len(paths), dtype=bool) if converted is None else np.array(converted, bool)
        val = (
            conv.astype(np.float64)
            if value is None
            else np.where(conv, np.array(value, dtype=np.float64), 0.0)
        )
        return cls(names, offsets, touches, np.array(age, dtype=np.float64), conv, val)


def channel_totals(
    journeys: Journeys,
    shares: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(conversions, value) credited to each channel: the shares of every touch of a
    converting journey, times 1 and times the journey's value. With `groups` (one
    integer per touch, below `size`), totals per group instead, e.g. channel and
    campaign together."""
    journey = journeys.journey_of_touch()
    weight = shares * journeys.converted[journey]
    if groups is None:
        groups, size = journeys.touches, len(journeys.channels)
    conversions = np.bincount(groups, weights=weight, minlength=size or 0)
    value = np.bincount(groups, weights=weight * journeys.value[journey], minlength=size or 0)
    return conversions, value
