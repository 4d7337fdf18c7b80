"""Journeys in columns, the shape every attribution model reads, and how they are cut
from touch rows. Pure: NumPy (and pandas for the touch rows), no Django.

A journey is one profile's marketing touches, in time order, before one conversion (or
before the end of the data, for a journey that did not convert). Journeys are stored as
flat arrays so that a million of them fit in a few arrays and every model is vectorised:
journey `i`'s touches are `touches[offsets[i]:offsets[i + 1]]`.

A model returns one share per touch: for each converting journey the shares of its
touches sum to exactly 1 (so its credits sum to the conversion's count and value); a
non-converting journey's shares are 0.

`cut_journeys` makes them out of touch rows (attribution.selectors.journeys reads those
from the database) with NumPy group operations: no loop over rows or profiles, so ten
million touch rows become journeys in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

DIRECT = "Direct"
# A view with nothing marketing about it this soon after the previous touch continues
# that visit (GA4's session timeout): the visit's channel is where it began.
SESSION_TIMEOUT = timedelta(minutes=30)
_NS_PER_US = 1_000


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


# --- cutting journeys out of touch rows ----------------------------------------------


def cut_journeys(
    touches: pd.DataFrame, *, event: str, lookback: timedelta, count_repeat: bool = True
) -> tuple[Journeys, list[str], int, np.ndarray]:
    """The journeys in touch rows for conversions named `event`. `touches` has the
    columns of attribution.selectors.journeys.touch_frame, sorted by profile and time:
    profile_id, timestamp, event, channel and campaign (categoricals), value. Returns
    the journeys, each touch's campaign, how many conversions had no touch before them
    (each gets one touch of its own channel), and when each journey ended."""
    profile = touches["profile_id"].to_numpy(dtype=np.int64)
    at = pd.DatetimeIndex(touches["timestamp"]).as_unit("ns").asi8
    conversion = np.asarray(touches["event"] == event)
    channel_names = touches["channel"].cat.categories
    channel = touches["channel"].cat.codes.to_numpy().astype(np.int64)
    campaign_names = touches["campaign"].cat.categories
    campaign = touches["campaign"].cat.codes.to_numpy().astype(np.int64)
    value = touches["value"].to_numpy(dtype=np.float64)

    before = conversions_before(profile, conversion)
    if not count_repeat:  # only the first conversion counts: what follows it is ignored
        keep = before == 0
        profile, at, conversion, channel, campaign, value, before = (
            column[keep] for column in (profile, at, conversion, channel, campaign, value, before)
        )

    # The session rule: a Direct view within the timeout of the previous touch of the
    # profile (views and marketing events; conversions do not count) continues its visit.
    touch_rows = np.flatnonzero(~conversion)
    continues = np.zeros(len(profile), dtype=bool)
    continues[touch_rows[1:]] = (profile[touch_rows[1:]] == profile[touch_rows[:-1]]) & (
        at[touch_rows[1:]] - at[touch_rows[:-1]] < _nanoseconds(SESSION_TIMEOUT)
    )
    direct = channel_names.get_indexer([DIRECT])[0]  # -1: no Direct row at all
    continuation = continues & ~conversion & (channel == direct)

    # Channels are numbered in the order they first come up, conversions included (a
    # conversion's channel stands in when nothing came before it).
    present, first_seen = np.unique(channel[~continuation], return_index=True)
    in_order = present[np.argsort(first_seen, kind="stable")]
    channel_id = np.zeros(len(channel_names), dtype=np.int32)
    channel_id[in_order] = np.arange(len(in_order), dtype=np.int32)

    # Per profile: its conversions, each closing what came after the one before, then its
    # open journey (the touches after its last conversion), if any are in the window.
    starts = np.ones(len(profile), dtype=bool)
    starts[1:] = profile[1:] != profile[:-1]
    group = np.cumsum(starts) - 1
    groups = int(group[-1]) + 1 if len(group) else 0
    conversions_of = np.bincount(group[conversion], minlength=groups)
    conversion_rows = np.flatnonzero(conversion)
    first_conversion_row = np.concatenate([[0], np.cumsum(conversions_of)])[:-1]
    last_row = np.append(np.flatnonzero(starts)[1:], len(profile)) - 1

    touch = np.flatnonzero(~conversion & ~continuation)
    touch_group, touch_before = group[touch], before[touch]
    is_open = touch_before == conversions_of[touch_group]
    end = np.empty(len(touch), dtype=np.int64)
    end[is_open] = at[last_row[touch_group[is_open]]]  # the profile's last row
    closed = ~is_open
    closing = first_conversion_row[touch_group[closed]] + touch_before[closed]
    end[closed] = at[conversion_rows[closing]]
    # Strictly before a conversion; up to and including the last row otherwise.
    inside = (at[touch] >= end - _nanoseconds(lookback)) & ((at[touch] < end) | is_open)
    touch, touch_group, touch_before, end, is_open = (
        column[inside] for column in (touch, touch_group, touch_before, end, is_open)
    )

    has_open = np.zeros(groups, dtype=np.int64)
    has_open[touch_group[is_open]] = 1
    journeys_before = np.concatenate([[0], np.cumsum(conversions_of + has_open)])
    count = int(journeys_before[-1])
    touch_journey = journeys_before[touch_group] + touch_before
    conversion_journey = journeys_before[group[conversion_rows]] + before[conversion_rows]
    converted = np.zeros(count, dtype=bool)
    converted[conversion_journey] = True
    values = np.zeros(count)
    values[conversion_journey] = value[conversion_rows]
    ends = np.zeros(count, dtype=np.int64)
    ends[conversion_journey] = at[conversion_rows]
    open_groups = np.flatnonzero(has_open)
    ends[journeys_before[open_groups + 1] - 1] = at[last_row[open_groups]]

    # A conversion with no touch before it gets one: its own channel, at the conversion.
    lengths = np.bincount(touch_journey, minlength=count)
    untouched = lengths[conversion_journey] == 0
    alone, alone_rows = conversion_journey[untouched], conversion_rows[untouched]
    lengths[alone] = 1
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    stands_in = np.zeros(count, dtype=np.int64)
    stands_in[alone] = 1
    position = np.arange(len(touch)) + (np.cumsum(stands_in) - stands_in)[touch_journey]

    touches_out = np.empty(offsets[-1], dtype=np.int32)
    ages_us = np.empty(offsets[-1], dtype=np.int64)
    campaign_out = np.empty(offsets[-1], dtype=np.int64)
    touches_out[position] = channel_id[channel[touch]]
    ages_us[position] = (end - at[touch]) // _NS_PER_US
    campaign_out[position] = campaign[touch]
    touches_out[offsets[alone]] = channel_id[channel[alone_rows]]
    ages_us[offsets[alone]] = 0
    campaign_out[offsets[alone]] = len(campaign_names)
    labels = np.array([*map(str, campaign_names), ""], dtype=object)
    journeys = Journeys(
        channels=tuple(str(channel_names[c]) for c in in_order),
        offsets=offsets,
        touches=touches_out,
        # Seconds as timedelta.total_seconds() gives them: whole microseconds / 10**6.
        ages=ages_us.astype(np.float64) / 1e6,
        converted=converted,
        value=values,
    )
    return journeys, labels[campaign_out].tolist(), len(alone), ends.view("datetime64[ns]")


def _nanoseconds(span: timedelta) -> int:
    return span // timedelta(microseconds=1) * _NS_PER_US


def conversions_before(profile: np.ndarray, conversion: np.ndarray) -> np.ndarray:
    """Per row (sorted by profile), how many of its profile's conversions came before it."""
    running = np.cumsum(conversion) - conversion
    starts = np.flatnonzero(np.diff(profile, prepend=profile[:1] - 1) != 0)
    return running - np.repeat(running[starts], np.diff(np.append(starts, len(profile))))
