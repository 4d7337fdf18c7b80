"""Journeys out of the stored touchpoints, for the attribution models.

A journey is the ordered touches of one profile inside the lookback window strictly
before a conversion (and after the profile's previous conversion), ending at that
conversion; the conversion event itself is not a touch. Touches are page and screen
views (their channel from UTM, referrer and click ids; Direct when they carry none) and
marketing events (emails opened or clicked, pushes opened, ads clicked). The touches
after a profile's last conversion are its non-converting journey. Only profiles whose
analytics consent allows it are read; the others are counted.

Everything is columnar, so that ten million touchpoints become journeys in about half a
minute instead of a loop over rows: `touch_frame` reads the rows in one go (COPY on
PostgreSQL) and classifies each distinct combination of what the channel rules read
once, and `journeys_for_goal` cuts the journeys with NumPy group operations.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import connection

from attribution.engine.channels import CLICK_IDS, classify, touch_fields
from attribution.engine.journeys import Journeys
from attribution.selectors.channels import channel_rules
from cdp.models import Profile, Source, Touchpoint
from consent.policy import allowed_profiles

MARKETING_EVENTS = (
    "Email Opened",
    "Email Link Clicked",
    "Push Notification Opened",
    "Ad Clicked",
    "SMS Link Clicked",
)
TOUCH_TYPES = ("page", "screen")
DIRECT = "Direct"
# A view with nothing marketing about it this soon after the previous touch continues
# that visit (GA4's session timeout): the visit's channel is where it began.
SESSION_TIMEOUT = timedelta(minutes=30)
# Up to this many profiles are picked out by the database (one array parameter, the
# profile timeline index); beyond it every touch row is read and the profiles picked out
# in memory. At 10M touchpoints (1M profiles): 1,000 profiles 0.5 s, 10,000 6 s, 50,000
# 26 s, about what reading every row takes (30 s).
PROFILES_PICKED_BY_DATABASE = 20_000
_NS_PER_US = 1_000


@dataclass
class JourneySet:
    journeys: Journeys
    campaigns: list[str]  # per touch: utm_campaign ("" when none)
    profiles_used: int
    profiles_left_out_for_consent: int
    conversions_without_touch: int  # credited to their own channel (In-store, Direct)
    # Per journey: when it ended (its conversion, or the profile's last touch row), UTC.
    ends: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="datetime64[ns]"))
    profile_ids: set[int] = field(default_factory=set)  # the profiles analytics may use
    # The touch rows the journeys were cut from (touch_frame's columns, the goal's own
    # events included), for reports over the same rows; the caller drops it when done.
    touches: pd.DataFrame | None = None


# --- reading the touch rows -------------------------------------------------------------

# The columns read, in order, and their types (text as dictionaries: a few thousand
# distinct values over millions of rows).
_TEXT = pa.dictionary(pa.int32(), pa.string())
_COLUMNS = {
    "id": pa.int64(),
    "profile_id": pa.int64(),
    "at": pa.timestamp("us", tz="UTC"),
    "source_id": pa.int64(),
    "type": _TEXT,
    "event": _TEXT,
    "utm_source": _TEXT,
    "utm_medium": _TEXT,
    "utm_campaign": _TEXT,
    "referrer": _TEXT,
    "page_query": _TEXT,  # the page URL when it has a query string (click ids), else ""
    "revenue": pa.float64(),
    "raw_value": pa.string(),  # the value property of the named events as JSON; "": none
}
# CSV parsed at a time.
_BLOCK_BYTES = 32 << 20


def _select(
    *, profile_ids: np.ndarray | None, until: datetime | None, events: tuple[str, ...], prop: str
) -> tuple[str, list]:
    """The SELECT of the touch rows (the columns of _COLUMNS) and its parameters."""
    postgres = connection.vendor == "postgresql"
    meta = Touchpoint._meta

    def column(name: str) -> str:
        return connection.ops.quote_name(meta.get_field(name).column)

    at, url, event = column("timestamp"), column("page_url"), column("event")

    def one_of(values: Sequence) -> tuple[str, list]:
        if postgres:
            return "= ANY(%s)", [list(values)]
        return f"IN ({', '.join(['%s'] * len(values))})", list(values)

    params: list = []
    raw_value = "''"
    if events and prop != "revenue":
        named, named_params = one_of(events)
        properties = column("properties")
        if postgres:
            found = f"({properties} -> %s)::text"
            params += [*named_params, prop]
        else:  # SQL values, turned into JSON text in _read_sqlite
            found = f"json_extract({properties}, %s)"
            params += [*named_params, "$." + json.dumps(prop)]
        raw_value = f"CASE WHEN {event} {named} THEN {found} END"
    views, view_params = one_of(TOUCH_TYPES)
    touch, touch_params = one_of([*MARKETING_EVENTS, *events])
    where = [
        f"{column('profile')} IS NOT NULL",
        f"({column('type')} {views} OR {event} {touch})",
    ]
    params += [*view_params, *touch_params]
    if until is not None:
        where.append(f"{at} <= %s")
        params.append(connection.ops.adapt_datetimefield_value(until))
    if profile_ids is not None:
        ids = [int(pk) for pk in profile_ids]
        if postgres:  # one array parameter, however many
            where.append(f"{column('profile')} = ANY(%s)")
            params.append(ids)
        else:  # one JSON parameter: SQLite caps the number of parameters
            where.append(f"{column('profile')} IN (SELECT value FROM json_each(%s))")
            params.append(json.dumps(ids))
    has_query = f"strpos({url}, '?')" if postgres else f"instr({url}, '?')"
    selected = [
        column("id"),
        column("profile"),
        at if postgres else f"CAST({at} AS TEXT)",  # SQLite's ISO text, parsed in pandas
        column("source"),
        column("type"),
        event,
        column("utm_source"),
        column("utm_medium"),
        column("utm_campaign"),
        column("referrer"),
        f"CASE WHEN {has_query} > 0 THEN {url} ELSE '' END",
        column("revenue"),
        f"COALESCE({raw_value}, '')",
    ]
    table = connection.ops.quote_name(meta.db_table)
    return f"SELECT {', '.join(selected)} FROM {table} WHERE {' AND '.join(where)}", params


def _read_postgresql(sql: str, params: list) -> pa.Table:
    """COPY the rows out as CSV, parsed by pyarrow a block at a time (in parallel, text
    straight into dictionaries): no Python object per value, and never the whole CSV in
    memory. (Parsing in a second thread while the next block arrives gained nothing on
    two cores: PostgreSQL writing the CSV is the critical path.)"""
    tables = []
    block = io.BytesIO()
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for row in copy:  # PostgreSQL sends COPY data one whole row per message
                block.write(row)
                if block.tell() >= _BLOCK_BYTES:
                    tables.append(_parse_csv(block.getvalue()))
                    block = io.BytesIO()
    if block.tell():
        tables.append(_parse_csv(block.getvalue()))
    if not tables:
        return pa.Table.from_pylist([], schema=pa.schema(list(_COLUMNS.items())))
    return pa.concat_tables(tables)


def _parse_csv(data: bytes) -> pa.Table:
    return pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(column_names=list(_COLUMNS)),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=_COLUMNS, strings_can_be_null=False),
    )


def _read_sqlite(sql: str, params: list) -> pa.Table:
    """The embedded database (demo, laptop): a cursor is fast enough at its scale."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    values = dict(zip(_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else {}
    columns = {name: list(values.get(name, ())) for name in _COLUMNS}
    at = pd.to_datetime(pd.Series(columns["at"], dtype=object), format="ISO8601", utc=True)
    columns["at"] = pd.DatetimeIndex(at).as_unit("us").asi8
    columns["revenue"] = [None if v is None else float(v) for v in columns["revenue"]]
    # As JSON text, like PostgreSQL's: the same decoding for both.
    columns["raw_value"] = ["" if v in ("", None) else json.dumps(v) for v in columns["raw_value"]]
    arrays = {}
    for name, kind in _COLUMNS.items():
        if kind == _TEXT:
            arrays[name] = pa.array(columns[name], type=pa.string()).dictionary_encode()
        else:
            arrays[name] = pa.array(columns[name]).cast(kind)
    return pa.table(arrays)


# --- channels ---------------------------------------------------------------------------

# Why raw referrers and page URLs can be shortened before classifying them: touch_fields
# reads a referrer only for its host, and urlsplit finds the host right after the first
# "//", up to the next / ? or #, so nothing after that counts.
_END_OF_HOST = re.compile("[/?#]")
# A page URL counts only for which click-id parameters have a value (parse_qs drops
# empty ones). A URL naming none of them (nor any %-escape that could spell one) has no
# click id; in the others every value, up to the next & # ? or a byte urlsplit removes,
# can stand as "x", which makes the gclid=<unique> landing pages a few distinct strings.
_CLICK_ID_OR_ESCAPE = re.compile("|".join([*map(re.escape, CLICK_IDS), "%"]))
_QUERY_VALUE = re.compile(r"=[^&#?\t\r\n]+")


def _referrer_host(referrer: str) -> str:
    start = referrer.find("//")
    if start < 0:
        return ""
    end = _END_OF_HOST.search(referrer, start + 2)
    return referrer if end is None else referrer[: end.start()]


def _click_id_query(url: str) -> str:
    if "?" not in url or not _CLICK_ID_OR_ESCAPE.search(url):
        return ""
    return _QUERY_VALUE.sub("=x", url)


def _dictionary(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary column (its chunks sharing one dictionary) as codes and names."""
    if not column.chunks:
        return np.zeros(0, dtype=np.int32), []
    codes = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    return np.concatenate(codes), column.chunks[0].dictionary.to_pylist()


def _field_codes(codes: np.ndarray, names: list[str], field) -> tuple[np.ndarray, list[str]]:
    """Per row, a code for `field(raw value)`, and for each such field value one raw
    value that gives it (to stand for all of them)."""
    field_codes, _ = pd.factorize(pd.Series([field(name) for name in names], dtype=object))
    standing = dict(zip(field_codes.tolist(), names, strict=True))
    return field_codes.astype(np.int32)[codes], [standing[c] for c in range(len(standing))]


def _combine(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of `parts` (non-negative codes, one per row),
    numbered in order of first appearance, and the first row of each."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    size = 1
    for part in parts:
        width = int(part.max()) + 1 if len(part) else 1
        if size * width >= 2**62:
            key, uniques = pd.factorize(key)
            key, size = key.astype(np.int64), len(uniques)
        key = key * width + part
        size *= width
    key = pd.factorize(key)[0].astype(np.int64)
    # In order of first appearance, a code first appears where the running maximum rises.
    first = np.flatnonzero(np.diff(np.maximum.accumulate(key), prepend=-1) > 0)
    return key, first


# The argument of touch_fields each text column is, and the field it gives.
_FIELDS = {
    "source_kind": "source_kind",
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "campaign",
    "referrer": "referrer_domain",
    "page_url": "click_id",
    "event": "event",
}


def _channels(
    columns: dict[str, tuple[np.ndarray, list[str]]], own: list[str], rules
) -> tuple[np.ndarray, list[str]]:
    """Each row's channel (codes and names), classifying each distinct combination of
    what the rules read once. touch_fields derives each field from its own argument
    (the source category from source, referrer host and click id together), so raw
    values that give the same field are interchangeable: one stands for all."""
    fields = {}
    for argument, (codes, names) in columns.items():

        def field(value, argument=argument):
            return touch_fields(**{argument: value}, own_domains=own)[_FIELDS[argument]]

        fields[argument] = _field_codes(codes, names, field)
    combination, first = _combine([codes for codes, _ in fields.values()])
    found = [
        classify(
            touch_fields(
                **{argument: names[codes[row]] for argument, (codes, names) in fields.items()},
                own_domains=own,
            ),
            rules,
        )
        for row in first
    ]
    channel_codes, channel_names = pd.factorize(pd.Series(found, dtype=object))
    codes = channel_codes.astype(np.int64)[combination] if len(found) else combination
    return codes, [str(name) for name in channel_names]


# --- the frame --------------------------------------------------------------------------


def touch_frame(
    *,
    profile_ids: Iterable[int] | None = None,
    until: datetime | None = None,
    events: Sequence[str] | None = None,
    own_domains: Sequence[str] | None = None,
    value_property: str = "revenue",
) -> pd.DataFrame:
    """The touch rows, for journeys, segments and reports: page and screen views,
    marketing events, and the events named in `events` (e.g. a goal's conversions).

    `profile_ids=None` reads the rows of every profile (consent is the caller's
    business); a collection restricts to those profiles. `until` keeps rows up to and
    including that time. A referrer on one of `own_domains` (default
    OMNITRAIL_OWN_DOMAINS) is the site itself.

    Sorted by (profile_id, timestamp, id); columns: id, profile_id (int64); timestamp
    (datetime64[ns, UTC]); type, event, channel (classified by `channel_rules()`) and
    campaign (utm_campaign, "" when none) as categoricals; revenue (float64, 0.0 when
    none); value (float64: on the `events` rows their `value_property`, the revenue
    column when that is "revenue", 0.0 when missing or not a number; 0.0 elsewhere).
    """
    events = tuple(dict.fromkeys(events or ()))
    wanted = None
    if profile_ids is not None:
        wanted = np.unique(np.fromiter((int(pk) for pk in profile_ids), dtype=np.int64))
    by_database = wanted is not None and len(wanted) <= PROFILES_PICKED_BY_DATABASE
    sql, params = _select(
        profile_ids=wanted if by_database else None,
        until=until,
        events=events,
        prop=value_property,
    )
    read = _read_postgresql if connection.vendor == "postgresql" else _read_sqlite
    table = read(sql, params).unify_dictionaries()

    profile = table["profile_id"].to_numpy()
    at = table["at"].cast(pa.int64()).to_numpy()
    ids = table["id"].to_numpy()
    if wanted is not None and not by_database:
        kept = np.flatnonzero(np.isin(profile, wanted))
        order = kept[np.lexsort((ids[kept], at[kept], profile[kept]))]
    else:
        order = np.lexsort((ids, at, profile))

    text = {}
    for name, kind in _COLUMNS.items():
        if kind == _TEXT:
            codes, names = _dictionary(table[name])
            text[name] = (codes[order], names)
    # Hundreds of thousands of distinct referrers and landing URLs, down to hundreds.
    for name, shorten in (("referrer", _referrer_host), ("page_query", _click_id_query)):
        text[name] = _field_codes(*text[name], shorten)
    kind_of = dict(Source.objects.values_list("pk", "kind"))
    source_codes, source_ids = pd.factorize(table["source_id"].to_numpy()[order])
    own = list(settings.OMNITRAIL_OWN_DOMAINS if own_domains is None else own_domains)
    channel, channels = _channels(
        {
            "source_kind": (source_codes, [kind_of.get(int(pk), "") for pk in source_ids]),
            "utm_source": text["utm_source"],
            "utm_medium": text["utm_medium"],
            "utm_campaign": text["utm_campaign"],
            "referrer": text["referrer"],
            "page_url": text["page_query"],
            "event": text["event"],
        },
        own,
        channel_rules(),
    )

    revenue = np.nan_to_num(table["revenue"].to_numpy()[order], nan=0.0)
    event_codes, event_names = text["event"]
    named = np.isin(event_codes, [i for i, name in enumerate(event_names) if name in events])
    if value_property == "revenue":
        value = np.where(named, revenue, 0.0)
    else:
        raw = table["raw_value"].take(pa.array(order[named])).to_pylist()
        value = np.zeros(len(order))
        value[named] = [_number(json.loads(found) if found else None) for found in raw]

    def categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(names))

    return pd.DataFrame(
        {
            "id": ids[order],
            "profile_id": profile[order],
            "timestamp": pd.to_datetime(at[order] * _NS_PER_US, unit="ns", utc=True),
            "type": categorical(*text["type"]),
            "event": categorical(event_codes, event_names),
            "channel": categorical(channel, channels),
            "campaign": categorical(*text["utm_campaign"]),
            "revenue": revenue,
            "value": value,
        }
    )


def _number(raw) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0


# --- journeys ---------------------------------------------------------------------------


def journeys_for_goal(
    *,
    event: str = "Order Completed",
    lookback: timedelta = timedelta(days=30),
    until: datetime | None = None,
    own_domains: Sequence[str] | None = None,
    value_property: str = "revenue",
    count_repeat: bool = True,
) -> JourneySet:
    """The journeys of every profile analytics may use, for conversions named `event`.
    A referrer on one of `own_domains` (default OMNITRAIL_OWN_DOMAINS) is the site
    itself, not a referral. A conversion is worth its `value_property` (the revenue
    column, or that event property); without `count_repeat` only a profile's first
    conversion counts and what follows it is ignored."""
    active = list(Profile.objects.filter(merged_into__isnull=True).values_list("pk", flat=True))
    allowed = allowed_profiles("analytics", active, at=until)
    touches = touch_frame(
        profile_ids=allowed,
        until=until,
        events=[event],
        own_domains=own_domains,
        value_property=value_property,
    )
    journeys, campaigns, without_touch, ends = cut_journeys(
        touches, event=event, lookback=lookback, count_repeat=count_repeat
    )
    return JourneySet(
        journeys=journeys,
        campaigns=campaigns,
        profiles_used=len(allowed),
        profiles_left_out_for_consent=len(active) - len(allowed),
        conversions_without_touch=without_touch,
        ends=ends,
        profile_ids=allowed,
        touches=touches,
    )


def cut_journeys(
    touches: pd.DataFrame, *, event: str, lookback: timedelta, count_repeat: bool = True
) -> tuple[Journeys, list[str], int, np.ndarray]:
    """The journeys in a touch frame (as `touch_frame` returns it, sorted by profile and
    time) for conversions named `event`: the journeys, each touch's campaign, how many
    conversions had no touch before them, and when each journey ended."""
    profile = touches["profile_id"].to_numpy(dtype=np.int64)
    at = pd.DatetimeIndex(touches["timestamp"]).as_unit("ns").asi8
    conversion = np.asarray(touches["event"] == event)
    channel_names = touches["channel"].cat.categories
    channel = touches["channel"].cat.codes.to_numpy().astype(np.int64)
    campaign_names = touches["campaign"].cat.categories
    campaign = touches["campaign"].cat.codes.to_numpy().astype(np.int64)
    value = touches["value"].to_numpy(dtype=np.float64)

    before = _conversions_before(profile, conversion)
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


def _conversions_before(profile: np.ndarray, conversion: np.ndarray) -> np.ndarray:
    """Per row (sorted by profile), how many of its profile's conversions came before it."""
    running = np.cumsum(conversion) - conversion
    starts = np.flatnonzero(np.diff(profile, prepend=profile[:1] - 1) != 0)
    return running - np.repeat(running[starts], np.diff(np.append(starts, len(profile))))
