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
    rows = _Rows.of(touches, event=event, count_repeat=count_repeat)
    continuation = _continues_visit(rows)
    in_order, channel_id = _numbered_channels(rows, continuation)
    profiles = _Profiles.of(rows)
    touch = _touches_in_window(rows, profiles, continuation, lookback)
    cut = _Cut.of(rows, profiles, touch)

    # A conversion with no touch before it gets one: its own channel, at the conversion.
    lengths = np.bincount(cut.touch_journey, minlength=cut.count)
    untouched = lengths[cut.conversion_journey] == 0
    alone = cut.conversion_journey[untouched]
    alone_rows = profiles.conversion_rows[untouched]
    lengths[alone] = 1
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    stands_in = np.zeros(cut.count, dtype=np.int64)
    stands_in[alone] = 1
    position = np.arange(len(touch.rows)) + (np.cumsum(stands_in) - stands_in)[cut.touch_journey]

    touches_out = np.empty(offsets[-1], dtype=np.int32)
    ages_us = np.empty(offsets[-1], dtype=np.int64)
    campaign_out = np.empty(offsets[-1], dtype=np.int64)
    touches_out[position] = channel_id[rows.channel[touch.rows]]
    ages_us[position] = (touch.end - rows.at[touch.rows]) // _NS_PER_US
    campaign_out[position] = rows.campaign[touch.rows]
    touches_out[offsets[alone]] = channel_id[rows.channel[alone_rows]]
    ages_us[offsets[alone]] = 0
    campaign_out[offsets[alone]] = len(rows.campaign_names)
    labels = np.array([*map(str, rows.campaign_names), ""], dtype=object)
    journeys = Journeys(
        channels=tuple(str(rows.channel_names[c]) for c in in_order),
        offsets=offsets,
        touches=touches_out,
        # Seconds as timedelta.total_seconds() gives them: whole microseconds / 10**6.
        ages=ages_us.astype(np.float64) / 1e6,
        converted=cut.converted,
        value=cut.values,
    )
    return journeys, labels[campaign_out].tolist(), len(alone), cut.ends.view("datetime64[ns]")


@dataclass
class _Rows:
    """The touch rows as arrays, sorted by profile and time; `before` counts the
    profile's conversions before each row."""

    profile: np.ndarray
    at: np.ndarray  # int64 nanoseconds
    conversion: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    value: np.ndarray
    before: np.ndarray
    channel_names: pd.Index
    campaign_names: pd.Index

    @classmethod
    def of(cls, touches: pd.DataFrame, *, event: str, count_repeat: bool) -> _Rows:
        profile = touches["profile_id"].to_numpy(dtype=np.int64)
        conversion = np.asarray(touches["event"] == event)
        columns = {
            "profile": profile,
            "at": pd.DatetimeIndex(touches["timestamp"]).as_unit("ns").asi8,
            "conversion": conversion,
            "channel": touches["channel"].cat.codes.to_numpy().astype(np.int64),
            "campaign": touches["campaign"].cat.codes.to_numpy().astype(np.int64),
            "value": touches["value"].to_numpy(dtype=np.float64),
            "before": conversions_before(profile, conversion),
        }
        if not count_repeat:  # only the first conversion counts: what follows it is ignored
            keep = columns["before"] == 0
            columns = {name: column[keep] for name, column in columns.items()}
        return cls(
            **columns,
            channel_names=touches["channel"].cat.categories,
            campaign_names=touches["campaign"].cat.categories,
        )


def _continues_visit(rows: _Rows) -> np.ndarray:
    """The session rule: a Direct view within the timeout of the previous touch of the
    profile (views and marketing events; conversions do not count) continues its visit."""
    touch_rows = np.flatnonzero(~rows.conversion)
    continues = np.zeros(len(rows.profile), dtype=bool)
    continues[touch_rows[1:]] = (rows.profile[touch_rows[1:]] == rows.profile[touch_rows[:-1]]) & (
        rows.at[touch_rows[1:]] - rows.at[touch_rows[:-1]] < _nanoseconds(SESSION_TIMEOUT)
    )
    direct = rows.channel_names.get_indexer(pd.Index([DIRECT]))[0]  # -1: no Direct row at all
    quiet: np.ndarray = continues & ~rows.conversion & (rows.channel == direct)
    return quiet


def _numbered_channels(rows: _Rows, continuation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Channels numbered in the order they first come up, conversions included (a
    conversion's channel stands in when nothing came before it): the channel codes in
    that order, and each code's number."""
    present, first_seen = np.unique(rows.channel[~continuation], return_index=True)
    in_order = present[np.argsort(first_seen, kind="stable")]
    channel_id = np.zeros(len(rows.channel_names), dtype=np.int32)
    channel_id[in_order] = np.arange(len(in_order), dtype=np.int32)
    return in_order, channel_id


@dataclass
class _Profiles:
    """Per row its profile's number (`group`, in order); per profile its conversions
    (count, first in `conversion_rows`) and its last row."""

    group: np.ndarray
    count: int
    conversions_of: np.ndarray
    conversion_rows: np.ndarray
    first_conversion_row: np.ndarray
    last_row: np.ndarray

    @classmethod
    def of(cls, rows: _Rows) -> _Profiles:
        starts = np.ones(len(rows.profile), dtype=bool)
        starts[1:] = rows.profile[1:] != rows.profile[:-1]
        group = np.cumsum(starts) - 1
        count = int(group[-1]) + 1 if len(group) else 0
        conversions_of = np.bincount(group[rows.conversion], minlength=count)
        return cls(
            group=group,
            count=count,
            conversions_of=conversions_of,
            conversion_rows=np.flatnonzero(rows.conversion),
            first_conversion_row=np.concatenate([[0], np.cumsum(conversions_of)])[:-1],
            last_row=np.append(np.flatnonzero(starts)[1:], len(rows.profile)) - 1,
        )


@dataclass
class _Touches:
    """The touches inside some journey's window: their rows, profile, conversions of
    the profile before them, their journey's end and whether it is the open one."""

    rows: np.ndarray
    group: np.ndarray
    before: np.ndarray
    end: np.ndarray
    is_open: np.ndarray


def _touches_in_window(
    rows: _Rows, profiles: _Profiles, continuation: np.ndarray, lookback: timedelta
) -> _Touches:
    """Per profile: its conversions, each closing what came after the one before, then
    its open journey (the touches after its last conversion); a touch counts inside the
    lookback window of its journey's end, strictly before a conversion and up to and
    including the last row otherwise."""
    touch = np.flatnonzero(~rows.conversion & ~continuation)
    group, before = profiles.group[touch], rows.before[touch]
    is_open = before == profiles.conversions_of[group]
    end = np.empty(len(touch), dtype=np.int64)
    end[is_open] = rows.at[profiles.last_row[group[is_open]]]  # the profile's last row
    closed = ~is_open
    closing = profiles.first_conversion_row[group[closed]] + before[closed]
    end[closed] = rows.at[profiles.conversion_rows[closing]]
    at = rows.at[touch]
    inside = (at >= end - _nanoseconds(lookback)) & ((at < end) | is_open)
    return _Touches(touch[inside], group[inside], before[inside], end[inside], is_open[inside])


@dataclass
class _Cut:
    """The journeys: how many, each touch's and each conversion's journey, and per
    journey whether it converted, its value and when it ended."""

    count: int
    touch_journey: np.ndarray
    conversion_journey: np.ndarray
    converted: np.ndarray
    values: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, rows: _Rows, profiles: _Profiles, touch: _Touches) -> _Cut:
        has_open = np.zeros(profiles.count, dtype=np.int64)
        has_open[touch.group[touch.is_open]] = 1
        journeys_before = np.concatenate([[0], np.cumsum(profiles.conversions_of + has_open)])
        count = int(journeys_before[-1])
        conversion_rows = profiles.conversion_rows
        conversion_journey = (
            journeys_before[profiles.group[conversion_rows]] + rows.before[conversion_rows]
        )
        converted = np.zeros(count, dtype=bool)
        converted[conversion_journey] = True
        values = np.zeros(count)
        values[conversion_journey] = rows.value[conversion_rows]
        ends = np.zeros(count, dtype=np.int64)
        ends[conversion_journey] = rows.at[conversion_rows]
        open_groups = np.flatnonzero(has_open)
        ends[journeys_before[open_groups + 1] - 1] = rows.at[profiles.last_row[open_groups]]
        return cls(
            count=count,
            touch_journey=journeys_before[touch.group] + touch.before,
            conversion_journey=conversion_journey,
            converted=converted,
            values=values,
            ends=ends,
        )


def _nanoseconds(span: timedelta) -> int:
    return span // timedelta(microseconds=1) * _NS_PER_US


def conversions_before(profile: np.ndarray, conversion: np.ndarray) -> np.ndarray:
    """Per row (sorted by profile), how many of its profile's conversions came before it."""
    running = np.cumsum(conversion) - conversion
    starts = np.flatnonzero(np.diff(profile, prepend=profile[:1] - 1) != 0)
    before: np.ndarray = running - np.repeat(
        running[starts], np.diff(np.append(starts, len(profile)))
    )
    return before
