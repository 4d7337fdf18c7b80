"""Journeys out of the stored touchpoints, for the attribution models.

A journey is the ordered touches of one profile inside the lookback window strictly
before a conversion (and after the profile's previous conversion), ending at that
conversion; the conversion event itself is not a touch. Touches are page and screen
views (their channel from UTM, referrer and click ids; Direct when they carry none) and
marketing events (emails opened or clicked, pushes opened, ads clicked). The touches
after a profile's last conversion are its non-converting journey. Only profiles whose
analytics consent allows it are read; the others are counted.

Everything is columnar, so that ten million touchpoints become journeys in about half a
minute instead of a loop over rows. This module reads: `touch_frame` takes the rows in
one go (COPY on PostgreSQL) as dictionary-coded columns; the pure work is the engine's,
each distinct combination of what the channel rules read classified once
(attribution.engine.touches) and the journeys cut with NumPy group operations
(attribution.engine.journeys.cut_journeys).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import connection

from attribution.engine.journeys import Journeys, cut_journeys
from attribution.engine.touches import (
    MARKETING_EVENTS,
    TOUCH_TYPES,
    channel_codes,
    click_id_query,
    field_codes,
    referrer_host,
)
from attribution.selectors.channels import channel_rules
from cdp.models import Profile, Source, Touchpoint
from cdp.services.bulk import column_of
from consent.policy import allowed_profiles

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
    *,
    profile_ids: np.ndarray | None,
    until: datetime | None,
    events: tuple[str, ...],
    prop: str,
    profile_range: tuple[int, int] | None = None,
    bots: bool | None = None,
) -> tuple[str, list]:
    """The SELECT of the touch rows (the columns of _COLUMNS) and its parameters."""
    postgres = connection.vendor == "postgresql"

    def column(name: str) -> str:
        return connection.ops.quote_name(column_of(Touchpoint, name))

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
    if bots is None:
        bots = settings.OMNITRAIL_ATTRIBUTE_BOTS
    if not bots:  # bots' and crawlers' events (cdp enrichment)
        where.append(f"NOT {column('is_bot')}")
    if profile_range is not None:  # (after, up to]: a range of the profile timeline index
        where.append(f"{column('profile')} > %s AND {column('profile')} <= %s")
        params += [int(profile_range[0]), int(profile_range[1])]
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
    table = connection.ops.quote_name(Touchpoint._meta.db_table)
    return f"SELECT {', '.join(selected)} FROM {table} WHERE {' AND '.join(where)}", params


def _read_postgresql(
    sql: str, params: list, each: Callable[[pa.Table], None] | None = None
) -> pa.Table | None:
    """COPY the rows out as CSV, parsed by pyarrow a block at a time (in parallel, text
    straight into dictionaries): no Python object per value, and never the whole CSV in
    memory. (Parsing in a second thread while the next block arrives gained nothing on
    two cores: PostgreSQL writing the CSV is the critical path.) With `each`, every
    parsed block is handed to it and dropped (returns None)."""
    tables = []
    block = io.BytesIO()
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for row in copy:  # PostgreSQL sends COPY data one whole row per message
                block.write(row)
                if block.tell() >= _BLOCK_BYTES:
                    tables.append(_parse_csv(block.getvalue()))
                    block = io.BytesIO()
                    if each is not None:  # handed over block by block, not kept
                        each(tables.pop())
    if block.tell():
        tables.append(_parse_csv(block.getvalue()))
    if each is not None:
        for table in tables:
            each(table)
        return None
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
    columns: dict[str, Any] = {name: list(values.get(name, ())) for name in _COLUMNS}
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


# --- the frame --------------------------------------------------------------------------


def _dictionary(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary column (its chunks sharing one dictionary) as codes and names."""
    if not column.chunks:
        return np.zeros(0, dtype=np.int32), []
    codes = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in column.chunks]
    return np.concatenate(codes), column.chunks[0].dictionary.to_pylist()


def touch_frame(
    *,
    profile_ids: Iterable[int] | None = None,
    until: datetime | None = None,
    events: Sequence[str] | None = None,
    own_domains: Sequence[str] | None = None,
    value_property: str = "revenue",
    profile_range: tuple[int, int] | None = None,
    bots: bool | None = None,
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

    `profile_range=(after, last)` keeps the rows of the profiles with ids in (after,
    last] (a chunk of the population, read by the profile timeline index). Bots' and
    crawlers' rows are left out unless `bots` (default OMNITRAIL_ATTRIBUTE_BOTS).
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
        profile_range=profile_range,
        bots=bots,
    )
    if connection.vendor == "postgresql":
        table = _read_postgresql(sql, params)
    else:
        table = _read_sqlite(sql, params)
    assert table is not None
    return _frame(table, None if by_database else wanted, events, own_domains, value_property)


def touch_frames_by_range(
    ranges: Sequence[tuple[int, int]],
    *,
    events: Sequence[str] | None = None,
    bots: bool | None = None,
    folder: str,
) -> Iterator[tuple[tuple[int, int], pd.DataFrame]]:
    """touch_frame's rows of every profile, one frame per (after, last] profile id range
    of `ranges` (ascending, contiguous), in bounded memory. On PostgreSQL the table is
    read once (one COPY, a sequential scan: a profile's rows are scattered over the
    heap, so a range at a time would read most of it again) and its rows dealt into one
    Arrow file per range under `folder`; each is then read back and framed alone. On
    SQLite a query per range."""
    events = tuple(dict.fromkeys(events or ()))
    if connection.vendor != "postgresql":
        for profile_range in ranges:
            yield profile_range, touch_frame(profile_range=profile_range, events=events, bots=bots)
        return
    sql, params = _select(profile_ids=None, until=None, events=events, prop="revenue", bots=bots)
    lasts = np.array([last for _, last in ranges], dtype=np.int64)
    schema = pa.schema(
        [(name, pa.string() if kind == _TEXT else kind) for name, kind in _COLUMNS.items()]
    )
    paths = [os.path.join(folder, f"touches-{n}.arrow") for n in range(len(ranges))]
    writers = [pa.ipc.new_stream(path, schema) for path in paths]

    def deal(table: pa.Table) -> None:
        plain = table.cast(schema)
        bucket = np.searchsorted(lasts, plain["profile_id"].to_numpy(), side="left")
        order = np.argsort(bucket, kind="stable")  # one take, then a slice per range
        plain, bucket = plain.take(pa.array(order)), bucket[order]
        starts = np.searchsorted(bucket, np.arange(len(writers) + 1), side="left")
        for n, writer in enumerate(writers):
            if starts[n + 1] > starts[n]:
                writer.write_table(plain.slice(starts[n], starts[n + 1] - starts[n]))

    try:
        _read_postgresql(sql, params, each=deal)
    finally:
        for writer in writers:
            writer.close()
    for profile_range, path in zip(ranges, paths, strict=True):
        with pa.memory_map(path) as source:
            table = pa.ipc.open_stream(source).read_all()
        os.remove(path)
        table = pa.table(
            {
                name: table[name].dictionary_encode() if kind == _TEXT else table[name]
                for name, kind in _COLUMNS.items()
            }
        )
        yield profile_range, _frame(table, None, events, None, "revenue")


def _frame(
    table: pa.Table,
    wanted: np.ndarray | None,
    events: tuple[str, ...],
    own_domains: Sequence[str] | None,
    value_property: str,
) -> pd.DataFrame:
    """The read rows as touch_frame's frame (`wanted`: keep only those profiles)."""
    table = table.unify_dictionaries()
    profile = table["profile_id"].to_numpy()
    at = table["at"].cast(pa.int64()).to_numpy()
    ids = table["id"].to_numpy()
    if wanted is not None:
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
    for name, shorten in (("referrer", referrer_host), ("page_query", click_id_query)):
        text[name] = field_codes(*text[name], shorten)
    kind_of = dict(Source.objects.values_list("pk", "kind"))
    source_codes, source_ids = pd.factorize(table["source_id"].to_numpy()[order])
    own = list(settings.OMNITRAIL_OWN_DOMAINS if own_domains is None else own_domains)
    channel, channels = channel_codes(
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

    def categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical[Any]:
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
