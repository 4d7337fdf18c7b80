"""Computed traits in PostgreSQL, column-wise: per pass (the traits that read the same
property), one COPY out of only the touchpoints those traits' events need and only the
columns they read (profile, which traits each row counts for as bit flags, the
(timestamp, id) order, the value property as type letter + text, the numeric properties'
numbers), parsed by pyarrow; DuckDB reduces every trait of the pass from those columns
(in-process, vectorised: PostgreSQL spends 5-10 us a row in each grouping on these
machines, DuckDB a fraction of that); the values are COPYed into a temporary staging
table, and only what changed is written to the values table (stale values deleted,
changed ones updated in place, new ones inserted), so a refresh whose values mostly
stay writes few rows. The first full refresh of the traits (the table holds none of
their values) COPYs them straight into the values table instead. Memory: the pass's
columns and DuckDB's groups (bounded by OMNITRAIL_TRAITS_DUCKDB_MEMORY; it spills
beyond).

The same definitions as attribution/traits/engine.py (the tests run both against
hand-computed values):
- the events: the trait's event name and property values (jsonb equality), inside its
  window and not after `now`, of active profiles, in (timestamp, id) order;
- a value: the property when it is a string (but ""), a number or a boolean; equal
  values are equal in type and text;
- numbers: JSON numbers, or text that reads as one (a decimal or exponent form); sums
  and averages rounded to 6 places;
- most frequent: the highest count, the earliest first seen among equals; unique: the
  distinct values in order of first appearance (the first UNIQUE_KEPT kept; the count is
  exact); first / last: the value of the earliest / latest event, by (timestamp, id).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import connection

from attribution.traits import engine
from attribution.traits.models import ProfileTraitValue
from cdp.models import Profile, Touchpoint
from cdp.services.bulk import column_of, statement_settings

_NUMBER_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
STAGING = "omnitrail_trait_staging"
# The sorts and hashes of one refresh (the session's default, 4 MB, spills a million
# profiles' groups to disk many times over); set for the refresh's statements only.
WORK_MEM = "256MB"
NUMERIC_KINDS = ("sum", "average", "min", "max")
VALUE_KINDS = ("most_frequent", "first", "last", "unique", "unique_count")


def _number(v: str) -> str:
    """The value's number (engine._number), of the jsonb expression `v`."""
    return (
        f"CASE jsonb_typeof({v}) WHEN 'number' THEN ({v} #>> '{{}}')::float8 "
        f"WHEN 'string' THEN CASE WHEN ({v} #>> '{{}}') ~ %(number_text)s "
        f"THEN btrim({v} #>> '{{}}', E' \\t\\n\\r\\f\\v')::float8 END END"
    )


def _text(v: str) -> str:
    """The value's text (str() of the Python value), of the jsonb expression `v`."""
    return (
        f"CASE jsonb_typeof({v}) WHEN 'boolean' THEN initcap({v} #>> '{{}}') "
        f"ELSE {v} #>> '{{}}' END"
    )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


@dataclass
class _Pass:
    """The traits computed in one pass over the touchpoints: `prop` is the property the
    value kinds read ("" when none does)."""

    prop: str
    traits: list[tuple[Any, engine.Definition]] = field(default_factory=list)


def _passes(traits: Sequence[tuple[Any, engine.Definition]]) -> list[_Pass]:
    """One pass per property the value kinds read; the counters and numeric kinds go
    with the first (or alone when no trait reads values)."""
    by_prop: dict[str, _Pass] = {}
    others = []
    for trait, definition in traits:
        if definition.kind in VALUE_KINDS:
            by_prop.setdefault(definition.property, _Pass(definition.property))
            by_prop[definition.property].traits.append((trait, definition))
        elif definition.kind == "count" or definition.kind in NUMERIC_KINDS:
            others.append((trait, definition))
        else:
            raise ValueError(f"no SQL for the kind {definition.kind!r}")
    return ([_Pass("", others)] if others else []) + list(by_prop.values())


def _columns() -> dict[str, str]:
    return {name: "t." + _q(column_of(Touchpoint, name)) for name in (
        "id", "profile", "timestamp", "event", "properties", "is_bot")}  # fmt: skip


def _condition(i: int, definition: engine.Definition, now: datetime, params: dict) -> str:
    """Whether a touchpoint counts for the pass's i-th trait: event, values, window."""
    t = _columns()
    matches = []
    if definition.event:
        matches.append(f"{t['event']} = %(event{i})s")
        params[f"event{i}"] = definition.event
    for j, (key, value) in enumerate(sorted(definition.where.items())):
        matches.append(f"{t['properties']} -> %(key{i}_{j})s = %(value{i}_{j})s::jsonb")
        params |= {f"key{i}_{j}": key, f"value{i}_{j}": json.dumps(value)}
    start = engine.since(definition, now)
    if start is not None:
        matches.append(f"{t['timestamp']} >= %(start{i})s")
        params[f"start{i}"] = start
    return "(" + (" AND ".join(matches) or "TRUE") + ")"


FLAGS = 62  # traits per pass at most: one bit each of a bigint
_BLOCK_BYTES = 64 * 2**20  # CSV parsed by pyarrow a block at a time
_WHITESPACE = " \t\n\r\x0b\x0c"


def _needs_order(run: _Pass) -> bool:
    """Whether a trait of the pass reads the (timestamp, id) order of its rows."""
    return any(d.kind in ("most_frequent", "first", "last", "unique") for _, d in run.traits)


def _scan(run: _Pass, now: datetime, ids: list[int] | None) -> tuple[str, dict, dict[str, str]]:
    """The SELECT of the pass's touchpoints, each read once, and its params: pid, f (bit
    i set: the row counts for the pass's i-th trait), ts and id (the (timestamp, id)
    order, microseconds since the epoch) when a kind needs the order, v (the value
    property, its jsonb type's first letter then its text; NULL when not a value),
    x0, ... (a numeric property's number). Returns it and the numeric properties'
    columns."""
    t = _columns()
    params: dict[str, Any] = {"now": now, "number_text": _NUMBER_TEXT}
    scan = [f"{t['profile']} AS pid"]
    conditions = []
    numeric: dict[str, str] = {}  # property -> its column
    flags = []
    for i, (_, definition) in enumerate(run.traits):
        condition = _condition(i, definition, now, params)
        conditions.append(condition)
        flags.append(f"(CASE WHEN {condition} THEN {1 << i} ELSE 0 END)")
        if definition.kind in NUMERIC_KINDS and definition.property not in numeric:
            numeric[definition.property] = f"x{len(numeric)}"
    scan.append(f"({' | '.join(flags)})::bigint AS f")
    if _needs_order(run):
        scan += [
            f"(date_part('epoch', {t['timestamp']}) * 1000000)::bigint AS ts",
            f"{t['id']} AS id",
        ]
    if run.prop:  # its JSON text (jsonb's, canonical: equal values, equal texts)
        scan.append(f"({t['properties']} -> %(prop)s)::text AS v")
        params["prop"] = run.prop
    for prop, x in numeric.items():
        params[f"{x}_prop"] = prop
        scan.append(_number(f"({t['properties']} -> %({x}_prop)s)") + f" AS {x}")
    where = [f"{t['timestamp']} <= %(now)s", f"{t['profile']} IS NOT NULL"]
    if not settings.OMNITRAIL_SEGMENT_BOTS:  # bots' and crawlers' events (cdp enrichment)
        where.append(f"NOT {t['is_bot']}")
    events = {d.event for _, d in run.traits}
    if "" not in events:  # (lets the planner read only these events' index entries)
        where.append(f"{t['event']} = ANY(%(events)s)")
        params["events"] = sorted(events)
    starts = [engine.since(d, now) for _, d in run.traits]
    if all(s is not None for s in starts):
        where.append(f"{t['timestamp']} >= %(earliest)s")
        params["earliest"] = min(s for s in starts if s is not None)
    if ids is not None:
        where.append(f"{t['profile']} = ANY(%(ids)s)")
        params["ids"] = ids
    where.append("(" + " OR ".join(conditions) + ")")
    sql = f"SELECT {', '.join(scan)} FROM {_q(Touchpoint._meta.db_table)} t WHERE "
    return sql + " AND ".join(where), params, numeric


_DUCKDB_TYPES = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.string(): "VARCHAR"}


def _load(
    reducer: duckdb.DuckDBPyConnection,
    name: str,
    sql: str,
    params: dict,
    types: dict[str, pa.DataType],
) -> None:
    """COPY the rows of `sql` out as CSV into the DuckDB table `name`, parsed by pyarrow
    a block at a time: no Python object per value, never the whole CSV in memory, and
    the table in DuckDB's storage (compressed, spilled to its file beyond its memory)."""
    columns = ", ".join(f"{column} {_DUCKDB_TYPES[kind]}" for column, kind in types.items())
    reducer.execute(f"CREATE OR REPLACE TABLE {name} ({columns})")
    block: list[bytes] = []
    size = 0
    options = (
        pa_csv.ReadOptions(column_names=list(types)),
        pa_csv.ParseOptions(newlines_in_values=True),
        pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )

    def parse() -> None:
        data = b"".join(block)
        block.clear()
        reducer.register("block", pa_csv.read_csv(pa.BufferReader(data), *options))
        reducer.execute(f"INSERT INTO {name} SELECT * FROM block")
        reducer.unregister("block")

    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
            for row in copy:  # PostgreSQL sends COPY data one whole row per message
                block.append(bytes(row))
                size += len(row)
                if size >= _BLOCK_BYTES:
                    parse()
                    size = 0
    if block:
        parse()


_IS_VALUE = "v IS NOT NULL AND v[1] NOT IN ('n', '{', '[') AND v <> '\"\"'"


def _value_number(v: str) -> str:
    """The number of the JSON value `v` (engine._number): a JSON number, or a string
    that reads as one."""
    return (
        f"CASE WHEN {v}[1] = '\"' THEN CASE WHEN regexp_full_match(json_extract_string({v}, "
        f"'$'), $number_text) THEN TRY_CAST(trim(json_extract_string({v}, '$'), $whitespace) "
        f"AS DOUBLE) END WHEN {v}[1] NOT IN ('t', 'f') THEN TRY_CAST({v} AS DOUBLE) END"
    )


def _value_text(v: str) -> str:
    """The text of the JSON value `v` (str() of the Python value: True / False)."""
    return (
        f"CASE {v}[1] WHEN '\"' THEN json_extract_string({v}, '$') WHEN 't' THEN 'True' "
        f"WHEN 'f' THEN 'False' ELSE {v} END"
    )


def _float_text(r: str) -> str:
    """A float8's text as PostgreSQL writes it (a whole number without '.0')."""
    return (
        f"CASE WHEN {r} = trunc({r}) AND abs({r}) < 1e15 THEN CAST(CAST({r} AS BIGINT) AS "
        f"VARCHAR) ELSE CAST({r} AS VARCHAR) END"
    )


def _reduction(i: int, trait_id: int, definition: engine.Definition, x: str) -> str:
    """The DuckDB SELECT of the i-th trait's (trait, profile, value, number, text) over
    the pass's rows `e` and the active profiles `p`."""
    mask = f"(f >> {i}) & 1 = 1"
    kind = definition.kind
    if kind == "count":
        n = "COALESCE(c.n, 0)"
        return (
            f"SELECT {trait_id}, p.id, CAST({n} AS VARCHAR), CAST({n} AS DOUBLE), "
            f"CAST({n} AS VARCHAR) FROM p LEFT JOIN (SELECT pid, count(*) AS n FROM e "
            f"WHERE {mask} GROUP BY pid) c ON c.pid = p.id"
        )
    if kind in NUMERIC_KINDS:
        reduce = {
            "sum": f"round(sum({x}), 6)",
            "average": f"round(avg({x}), 6)",
            "min": f"min({x})",
            "max": f"max({x})",
        }[kind]
        r = "c.r"
        return (
            f"SELECT {trait_id}, p.id, {_float_text(r)}, {r}, {_float_text(r)} FROM p JOIN "
            f"(SELECT pid, {reduce} AS r FROM e WHERE {mask} AND {x} IS NOT NULL GROUP BY pid) "
            "c ON c.pid = p.id"
        )
    values = f"e WHERE {mask} AND {_IS_VALUE}"
    if kind in ("first", "last"):
        pick = "arg_min" if kind == "first" else "arg_max"
        order = "(CAST(ts AS HUGEINT) << 64) | id"  # (timestamp, id), as one number
        source = f"SELECT pid, {pick}(v, {order}) AS r FROM {values} GROUP BY pid"
    else:  # by (profile, value): how often, first seen when
        groups = (
            (
                f"SELECT pid, v, count(*) AS n, min((CAST(ts AS HUGEINT) << 64) | id) AS s "
                f"FROM {values} GROUP BY pid, v"
            )
            if kind != "unique_count"
            else f"SELECT DISTINCT pid, v FROM {values}"
        )
        if kind == "unique_count":
            r = "c.r"
            return (
                f"SELECT {trait_id}, p.id, CAST({r} AS VARCHAR), CAST({r} AS DOUBLE), "
                f"CAST({r} AS VARCHAR) FROM p JOIN (SELECT pid, count(*) AS r FROM ({groups}) "
                "g GROUP BY pid) c ON c.pid = p.id"
            )
        if kind == "unique":
            kept = (
                f"SELECT pid, list(v ORDER BY s)[1:{engine.UNIQUE_KEPT}] AS r FROM ({groups}) g "
                "GROUP BY pid"
            )
            return (
                f"SELECT {trait_id}, p.id, '[' || array_to_string(c.r, ',') || ']', "
                "CAST(len(c.r) AS DOUBLE), left(array_to_string("
                f"list_transform(c.r, lambda u: {_value_text('u')}), ', '), 255) FROM p JOIN "
                f"({kept}) c ON c.pid = p.id"
            )
        source = f"SELECT pid, first(v ORDER BY n DESC, s) AS r FROM ({groups}) g GROUP BY pid"
    return (
        f"SELECT {trait_id}, p.id, c.r, {_value_number('c.r')}, "
        f"left({_value_text('c.r')}, 255) FROM p JOIN ({source}) c ON c.pid = p.id"
    )


def _stage(
    traits: Sequence[tuple[Any, engine.Definition]],
    ids: list[int] | None,
    now: datetime,
    into: str = STAGING,
) -> int:
    """Compute the traits' values of the active profiles (of `ids`) into the table
    `into` (STAGING, or the values table itself when it holds none of theirs); returns
    how many."""
    profiles = _q(Profile._meta.db_table)
    merged = _q(column_of(Profile, "merged_into"))
    scope = " AND id = ANY(%(ids)s)" if ids is not None else ""
    with tempfile.TemporaryDirectory(prefix="omnitrail-traits-") as folder:
        reducer = duckdb.connect(
            str(Path(folder) / "traits.duckdb"),
            config={
                "memory_limit": settings.OMNITRAIL_TRAITS_DUCKDB_MEMORY,
                "threads": 2,
                "preserve_insertion_order": False,
            },
        )
        try:
            active = f"SELECT id FROM {profiles} WHERE {merged} IS NULL{scope}"
            _load(reducer, "p", active, {"ids": ids}, {"id": pa.int64()})
            staged = 0
            for run in _passes(traits):
                for start in range(0, len(run.traits), FLAGS):
                    part = _Pass(run.prop, run.traits[start : start + FLAGS])
                    staged += _stage_pass(reducer, part, ids, now, into)
            return staged
        finally:
            reducer.close()


def _stage_pass(
    reducer: duckdb.DuckDBPyConnection,
    part: _Pass,
    ids: list[int] | None,
    now: datetime,
    into: str,
) -> int:
    sql, params, numeric = _scan(part, now, ids)
    types: dict[str, pa.DataType] = {"pid": pa.int64(), "f": pa.int64()}
    if _needs_order(part):
        types |= {"ts": pa.int64(), "id": pa.int64()}
    if part.prop:
        types["v"] = pa.string()
    types |= {x: pa.float64() for x in numeric.values()}
    _load(reducer, "e", sql, params, types)
    selects = [
        _reduction(i, trait.pk, definition, numeric.get(definition.property, ""))
        for i, (trait, definition) in enumerate(part.traits)
    ]
    # In (trait, profile) order: the values table's inserts then land each beside the one
    # before it in its unique (trait, profile) index (and in one sweep per trait in its
    # index of profiles), not on pages anywhere in indexes larger than the shared buffers
    # (the 6.5M values of a million profiles' first refresh, inserted from staging:
    # 55.5 s -> 39.2 s). DuckDB sorts them in a second or two; PostgreSQL's sort of them
    # cost more than it saved.
    reduced = f"SELECT * FROM ({' UNION ALL '.join(selects)}) ORDER BY 1, 2"
    named = {"number_text": _NUMBER_TEXT, "whitespace": _WHITESPACE}
    used = {k: v for k, v in named.items() if f"${k}" in reduced}
    result = reducer.sql(reduced, params=used).to_arrow_reader(500_000)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(
            f"COPY {into} (trait_id, profile_id, value, number, text) FROM STDIN (FORMAT csv)"
        ) as copy:
            for batch in result:
                out = io.BytesIO()
                pa_csv.write_csv(batch, out, pa_csv.WriteOptions(include_header=False))
                copy.write(out.getbuffer())
        copied = cursor.cursor.rowcount
    reducer.execute("DROP TABLE e")
    return copied


def _first_refresh(cursor: Any, table: str, traits: list[int]) -> bool:
    """Whether the values table holds no value of these traits: checked again under a
    lock that lets readers read but no other refresh write until this one commits (a
    refresh of a few profiles meanwhile waits instead of breaking the first one's COPY
    with a value it wrote first)."""
    holds = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE trait_id = ANY(%s))"
    cursor.execute(holds, [traits])
    if cursor.fetchone()[0]:
        return False
    cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(holds, [traits])
    return not cursor.fetchone()[0]


def refresh(
    traits: Sequence[tuple[Any, engine.Definition]], ids: list[int] | None, now: datetime
) -> dict[str, int]:
    """Replace the values of `traits` for `ids` (every profile when None); inside a
    transaction. Returns how many values were deleted, updated and inserted."""
    table = _q(ProfileTraitValue._meta.db_table)
    scoped = ids is not None
    with statement_settings(work_mem=WORK_MEM), connection.cursor() as cursor:
        if not scoped and _first_refresh(cursor, table, [trait.pk for trait, _ in traits]):
            # Nothing to compare with: the values go straight into the table (no staging
            # copy of millions of rows, no difference statements).
            return {"deleted": 0, "updated": 0, "inserted": _stage(traits, ids, now, table)}
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (trait_id bigint NOT NULL, "
            "profile_id bigint NOT NULL, value jsonb, number float8, text varchar(255) NOT NULL)"
        )
        _stage(traits, ids, now)
        cursor.execute(f"ANALYZE {STAGING}")  # (autovacuum never sees temporary tables)
        # Every profile: hash joins between the staging table and the values. A nested
        # loop over a values table the statistics say is empty (the first refresh)
        # re-reads it for every staged row while the INSERT grows it: hours at a
        # million profiles. (A scope's few rows are looked up by the index.)
        params = {"traits": [trait.pk for trait, _ in traits], "ids": ids}
        scope = " AND v.profile_id = ANY(%(ids)s)" if scoped else ""
        key = "s.trait_id = v.trait_id AND s.profile_id = v.profile_id"
        with statement_settings(enable_nestloop="on" if scoped else "off"):
            cursor.execute(
                f"DELETE FROM {table} v WHERE v.trait_id = ANY(%(traits)s){scope} "
                f"AND NOT EXISTS (SELECT 1 FROM {STAGING} s WHERE {key})",
                params,
            )
            deleted = cursor.rowcount
            cursor.execute(
                f"UPDATE {table} v SET value = s.value, number = s.number, text = s.text "
                f"FROM {STAGING} s WHERE {key} AND (v.value, v.number, v.text) "
                "IS DISTINCT FROM (s.value, s.number, s.text)"
            )
            updated = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {table} (trait_id, profile_id, value, number, text) "
                f"SELECT s.trait_id, s.profile_id, s.value, s.number, s.text FROM {STAGING} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} v WHERE {key})"
            )
            inserted = cursor.rowcount
        cursor.execute(f"DROP TABLE {STAGING}")
    return {"deleted": deleted, "updated": updated, "inserted": inserted}
