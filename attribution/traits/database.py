"""Computed traits in PostgreSQL, set-based: the traits that read the same property are
computed together in one statement, one pass over the touchpoints (with aggregates, no
window functions), into a temporary staging table; then only what changed is written
to the values table (stale values deleted, changed ones updated in place, new ones
inserted), so a refresh whose values mostly stay writes few rows and queues few
foreign-key checks. Nothing per row in Python: memory does not grow with the population.

The same definitions as attribution/traits/engine.py (the tests run both against
hand-computed values):
- the events: the trait's event name and property values (jsonb equality), inside its
  window and not after `now`, of active profiles, in (timestamp, id) order;
- a value: the property when it is a string (but ""), a number or a boolean;
- numbers: JSON numbers, or text that reads as one (a decimal or exponent form); sums
  and averages rounded to 6 places;
- most frequent: the highest count, the earliest first seen among equals; unique: the
  distinct values in order of first appearance (the first UNIQUE_KEPT kept; the count is
  exact); first / last: the value of the earliest / latest event, by (timestamp, id).

One statement: the touchpoints of every trait in it are read once, each row flagged
with which traits' conditions (event, property values, window) it meets; grouped by
(profile, property value): per trait how many rows, when first and last seen (as
(microseconds, id) arrays, which compare like the (timestamp, id) order), the sums,
minimums and maximums of the numeric properties; then grouped by profile: counters and
sums add up, the most frequent / first / last / unique values are read off the
(profile, value) groups in order. Traits on another property of their events get a
statement (a pass) of their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from attribution.traits import engine
from attribution.traits.models import ProfileTraitValue
from cdp.models import Profile, Touchpoint
from cdp.services.bulk import column_of

_NUMBER_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
STAGING = "omnitrail_trait_staging"
PASS = "omnitrail_trait_pass"
# The sorts and hashes of one refresh (the session's default, 4 MB, spills a million
# profiles' groups to disk many times over); set for the refresh's transaction only.
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


def _scan(run: _Pass, now: datetime, scoped: bool, params: dict) -> tuple[str, dict[str, str]]:
    """The SELECT of the pass's touchpoints, each read once: pid, v (the value
    property), c0, c1, ... (counts for the i-th trait), x0, ... (a numeric property's
    number), ok (v is a value), k (its (timestamp, id) order, as an array: the epoch's
    float8 keeps microseconds apart until the year 2255). Returns it and the numeric
    properties' columns."""
    t = _columns()
    scan = [
        f"{t['profile']} AS pid",
        f"{t['properties']} -> %(prop)s AS v" if run.prop else "NULL::jsonb AS v",
    ]
    params["prop"] = run.prop
    conditions = []
    numeric: dict[str, str] = {}  # property -> its column
    for i, (_, definition) in enumerate(run.traits):
        condition = _condition(i, definition, now, params)
        conditions.append(condition)
        scan.append(f"{condition} AS c{i}")
        if definition.kind in NUMERIC_KINDS and definition.property not in numeric:
            x = numeric[definition.property] = f"x{len(numeric)}"
            params[f"{x}_prop"] = definition.property
            scan.append(_number(f"({t['properties']} -> %({x}_prop)s)") + f" AS {x}")
    if run.prop:
        scan.append(
            f"jsonb_typeof({t['properties']} -> %(prop)s) IN ('string', 'number', 'boolean') "
            f"AND {t['properties']} -> %(prop)s <> '\"\"'::jsonb AS ok"
        )
    if any(d.kind in ("most_frequent", "first", "last", "unique") for _, d in run.traits):
        scan.append(f"ARRAY[date_part('epoch', {t['timestamp']}), {t['id']}] AS k")
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
    if scoped:
        where.append(f"{t['profile']} = ANY(%(ids)s)")
    where.append("(" + " OR ".join(conditions) + ")")
    sql = f"SELECT {', '.join(scan)} FROM {_q(Touchpoint._meta.db_table)} t WHERE "
    return sql + " AND ".join(where), numeric


@dataclass
class _Parts:
    groups: list[str] = field(default_factory=list)  # by (profile, value)
    per_profile: list[str] = field(default_factory=list)  # then by profile
    direct: list[str] = field(default_factory=list)  # by profile, straight from the rows
    stored: list[str] = field(default_factory=list)  # (trait, value, number, text)


def _numeric_parts(i: int, kind: str, x: str, parts: _Parts) -> None:
    if kind in ("sum", "average"):
        parts.groups += [f"sum({x}) FILTER (WHERE c{i}) AS s{i}",
                         f"count({x}) FILTER (WHERE c{i}) AS m{i}"]  # fmt: skip
        total = f"sum(s{i})" if kind == "sum" else f"sum(s{i}) / nullif(sum(m{i}), 0)::float8"
        parts.per_profile.append(f"round(({total})::numeric, 6)::float8 AS r{i}")
        reduce = "sum" if kind == "sum" else "avg"
        parts.direct.append(f"round({reduce}({x}) FILTER (WHERE c{i})::numeric, 6)::float8 AS r{i}")
    else:
        parts.groups.append(f"{kind}({x}) FILTER (WHERE c{i}) AS e{i}")
        parts.per_profile.append(f"{kind}(e{i}) AS r{i}")
        parts.direct.append(f"{kind}({x}) FILTER (WHERE c{i}) AS r{i}")
    parts.stored.append(f"%(trait{i})s, to_jsonb(r{i}), r{i}, r{i}::text")


def _value_parts(i: int, kind: str, parts: _Parts) -> None:
    seen = f"FILTER (WHERE c{i} AND ok)"
    parts.groups.append(f"count(*) {seen} AS b{i}")
    if kind in ("most_frequent", "first", "unique"):
        parts.groups.append(f"min(k) {seen} AS f{i}")
    if kind == "last":
        parts.groups.append(f"max(k) {seen} AS l{i}")
    has = f"FILTER (WHERE b{i} > 0)"
    if kind == "unique_count":
        parts.per_profile.append(f"count(*) {has} AS r{i}")
        parts.stored.append(f"%(trait{i})s, to_jsonb(NULLIF(r{i}, 0)), r{i}::float8, r{i}::text")
    elif kind == "unique":
        parts.per_profile += [
            f"(array_agg(v ORDER BY f{i}) {has})[1:%(kept)s] AS r{i}",
            f"array_to_string((array_agg({_text('v')} ORDER BY f{i}) {has})[1:%(kept)s], ', ') "
            f"AS u{i}",
        ]
        parts.stored.append(f"%(trait{i})s, to_jsonb(r{i}), cardinality(r{i})::float8, u{i}")
    else:
        order = {"most_frequent": f"b{i} DESC, f{i}", "first": f"f{i}", "last": f"l{i} DESC"}
        parts.per_profile.append(f"(array_agg(v ORDER BY {order[kind]}) {has})[1] AS r{i}")
        parts.stored.append(f"%(trait{i})s, r{i}, {_number(f'r{i}')}, {_text(f'r{i}')}")


def _statement(run: _Pass, now: datetime, scoped: bool) -> tuple[str, list[str], dict[str, Any]]:
    """The SELECT of each profile's results of the pass's traits (r0, r1, ...), and per
    trait the (trait, value, number, text) it stores, of those columns."""
    params: dict[str, Any] = {"now": now, "number_text": _NUMBER_TEXT, "kept": engine.UNIQUE_KEPT}
    scan, numeric = _scan(run, now, scoped, params)
    parts = _Parts()
    for i, (trait, definition) in enumerate(run.traits):
        params[f"trait{i}"] = trait.pk
        if definition.kind == "count":
            parts.groups.append(f"count(*) FILTER (WHERE c{i}) AS n{i}")
            parts.per_profile.append(f"sum(n{i}) AS r{i}")
            parts.direct.append(f"count(*) FILTER (WHERE c{i}) AS r{i}")
            n = f"COALESCE(r{i}, 0)"
            parts.stored.append(f"%(trait{i})s, to_jsonb({n}), {n}::float8, {n}::text")
        elif definition.kind in NUMERIC_KINDS:
            _numeric_parts(i, definition.kind, numeric[definition.property], parts)
        else:
            _value_parts(i, definition.kind, parts)
    if run.prop:
        computed = (
            f"SELECT pid, {', '.join(parts.per_profile)} FROM ("
            f"SELECT pid, v, {', '.join(parts.groups)} FROM ({scan}) e GROUP BY pid, v"
            ") g GROUP BY pid"
        )
    else:
        computed = f"SELECT pid, {', '.join(parts.direct)} FROM ({scan}) e GROUP BY pid"
    profiles = _q(Profile._meta.db_table)
    merged = _q(column_of(Profile, "merged_into"))
    if any(d.kind == "count" for _, d in run.traits):  # every active profile: 0 if none
        scope = " AND p.id = ANY(%(ids)s)" if scoped else ""
        source = f"{profiles} p LEFT JOIN ({computed}) f ON f.pid = p.id"
        source += f" WHERE p.{merged} IS NULL{scope}"
    else:
        source = f"({computed}) f JOIN {profiles} p ON p.id = f.pid AND p.{merged} IS NULL"
    return f"SELECT p.id AS profile, f.* FROM {source}", parts.stored, params


def refresh(
    traits: Sequence[tuple[Any, engine.Definition]], ids: list[int] | None, now: datetime
) -> dict[str, int]:
    """Replace the values of `traits` for `ids` (every profile when None); inside a
    transaction. Returns how many values were deleted, updated and inserted."""
    table = _q(ProfileTraitValue._meta.db_table)
    scoped = ids is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (trait_id bigint NOT NULL, "
            "profile_id bigint NOT NULL, value jsonb, number float8, text varchar(255) NOT NULL)"
        )
        for run in _passes(traits):
            sql, unpivot, params = _statement(run, now, scoped)
            if scoped:
                params["ids"] = ids
            # A table made by CREATE TABLE AS may be computed by parallel workers (an
            # INSERT ... SELECT may not, in PostgreSQL 15).
            cursor.execute(f"DROP TABLE IF EXISTS {PASS}")
            cursor.execute(f"CREATE TEMPORARY TABLE {PASS} AS {sql}", params)
            cursor.execute(
                f"INSERT INTO {STAGING} (trait_id, profile_id, value, number, text) "
                "SELECT trait, pid, value, number, left(COALESCE(text, ''), 255) FROM ("
                + " UNION ALL ".join(f"SELECT profile, {stored} FROM {PASS}" for stored in unpivot)
                + ") u(pid, trait, value, number, text) WHERE value IS NOT NULL",
                params,
            )
            cursor.execute(f"DROP TABLE {PASS}")
        cursor.execute(f"ANALYZE {STAGING}")  # (autovacuum never sees temporary tables)
        # Every profile: hash joins between the staging table and the values. A nested
        # loop over a values table the statistics say is empty (the first refresh)
        # re-reads it for every staged row while the INSERT grows it: hours at a
        # million profiles. (A scope's few rows are looked up by the index.)
        cursor.execute(
            "SELECT set_config('enable_nestloop', %s, true)", ["on" if scoped else "off"]
        )
        params = {"traits": [trait.pk for trait, _ in traits], "ids": ids}
        scope = " AND v.profile_id = ANY(%(ids)s)" if scoped else ""
        key = "s.trait_id = v.trait_id AND s.profile_id = v.profile_id"
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
        cursor.execute("SELECT set_config('enable_nestloop', 'on', true)")
    return {"deleted": deleted, "updated": updated, "inserted": inserted}
