"""Computed traits in PostgreSQL, set-based: one INSERT ... SELECT per trait over every
active profile (or a chunk of changed ones), nothing per row in Python, so memory does
not grow with the population. The same definitions as attribution/traits/engine.py (the
tests run both against hand-computed values):

- the events: the trait's event name and property values (jsonb equality), inside its
  window and not after `now`, of active profiles, in (timestamp, id) order;
- a value: the property when it is a string (but ""), a number or a boolean;
- numbers: JSON numbers, or text that reads as one (a decimal or exponent form); sums
  and averages rounded to 6 places;
- most frequent: the highest count, the earliest first seen among equals; unique: the
  distinct values in order of first appearance (the first UNIQUE_KEPT kept; the count is
  exact).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection

from attribution.traits import engine
from attribution.traits.models import ProfileTraitValue
from cdp.models import Profile, Touchpoint
from cdp.services.bulk import column_of

_NUMBER_TEXT = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
# The value's number (engine._number) and text (str() of the Python value).
_NUMBER = (
    "CASE jsonb_typeof(v) WHEN 'number' THEN (v #>> '{}')::float8 "
    "WHEN 'string' THEN CASE WHEN (v #>> '{}') ~ %(number_text)s "
    "THEN btrim(v #>> '{}', E' \\t\\n\\r\\f\\v')::float8 END END"
)
_TEXT = "CASE jsonb_typeof(v) WHEN 'boolean' THEN initcap(v #>> '{}') ELSE v #>> '{}' END"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _events(definition: engine.Definition, now: datetime, scoped: bool) -> tuple[str, dict]:
    """The SELECT of the trait's events: pid, at, tid and v (the property's value)."""
    t = {name: "t." + _q(column_of(Touchpoint, name)) for name in (
        "id", "profile", "timestamp", "event", "properties", "is_bot")}  # fmt: skip
    params: dict[str, Any] = {"now": now, "prop": definition.property or ""}
    where = [f"{t['timestamp']} <= %(now)s"]
    if definition.event:
        where.append(f"{t['event']} = %(event)s")
        params["event"] = definition.event
    for i, (key, value) in enumerate(sorted(definition.where.items())):
        where.append(f"{t['properties']} -> %(key{i})s = %(value{i})s::jsonb")
        params |= {f"key{i}": key, f"value{i}": json.dumps(value)}
    start = engine.since(definition, now)
    if start is not None:
        where.append(f"{t['timestamp']} >= %(start)s")
        params["start"] = start
    if not settings.OMNITRAIL_SEGMENT_BOTS:  # bots' and crawlers' events (cdp enrichment)
        where.append(f"NOT {t['is_bot']}")
    if scoped:
        where.append(f"{t['profile']} = ANY(%(ids)s)")
    profiles = _q(Profile._meta.db_table)
    merged = _q(column_of(Profile, "merged_into"))
    sql = (
        f"SELECT {t['profile']} AS pid, {t['timestamp']} AS at, {t['id']} AS tid, "
        f"{t['properties']} -> %(prop)s AS v "
        f"FROM {_q(Touchpoint._meta.db_table)} t JOIN {profiles} p "
        f"ON p.id = {t['profile']} AND p.{merged} IS NULL WHERE {' AND '.join(where)}"
    )
    return sql, params


def _values(kind: str, events: str, scoped: bool) -> str:
    """(pid, value jsonb, number float8, text) per profile that has a value."""
    valid = (
        f"SELECT pid, at, tid, v FROM ({events}) e "
        "WHERE jsonb_typeof(v) IN ('string', 'number', 'boolean') AND v <> '\"\"'::jsonb"
    )
    if kind == "count":
        profiles = _q(Profile._meta.db_table)
        merged = _q(column_of(Profile, "merged_into"))
        scope = " AND p.id = ANY(%(ids)s)" if scoped else ""
        return (
            "SELECT p.id AS pid, to_jsonb(COALESCE(c.n, 0)) AS value, "
            "COALESCE(c.n, 0)::float8 AS number, COALESCE(c.n, 0)::text AS text "
            f"FROM {profiles} p LEFT JOIN (SELECT pid, count(*) AS n FROM ({events}) e "
            f"GROUP BY pid) c ON c.pid = p.id WHERE p.{merged} IS NULL{scope}"
        )
    if kind in ("sum", "average", "min", "max"):
        reduce = {
            "sum": "round(sum(x)::numeric, 6)::float8",
            "average": "round(avg(x)::numeric, 6)::float8",
            "min": "min(x)",
            "max": "max(x)",
        }[kind]
        return (
            "SELECT pid, to_jsonb(r) AS value, r AS number, r::text AS text FROM ("
            f"SELECT pid, {reduce} AS r FROM (SELECT pid, {_NUMBER} AS x FROM ({valid}) n) s "
            "WHERE x IS NOT NULL GROUP BY pid) a"
        )
    if kind in ("first", "last"):
        order = "at, tid" if kind == "first" else "at DESC, tid DESC"
        return (
            f"SELECT pid, v AS value, {_NUMBER} AS number, {_TEXT} AS text FROM ("
            f"SELECT DISTINCT ON (pid) pid, v FROM ({valid}) n ORDER BY pid, {order}) f"
        )
    # Each distinct value once per profile: how often, and when first seen.
    distinct = (
        "SELECT pid, v, count(*) AS times, min(rn) AS seen FROM ("
        f"SELECT pid, v, row_number() OVER (PARTITION BY pid ORDER BY at, tid) AS rn "
        f"FROM ({valid}) n) o GROUP BY pid, v"
    )
    if kind == "most_frequent":
        return (
            f"SELECT pid, v AS value, {_NUMBER} AS number, {_TEXT} AS text FROM ("
            f"SELECT DISTINCT ON (pid) pid, v FROM ({distinct}) d "
            "ORDER BY pid, times DESC, seen) m"
        )
    if kind == "unique_count":
        return (
            "SELECT pid, to_jsonb(count(*)) AS value, count(*)::float8 AS number, "
            f"count(*)::text AS text FROM ({distinct}) d GROUP BY pid"
        )
    if kind == "unique":
        ranked = (
            f"SELECT pid, v, seen, {_TEXT} AS shown, "
            f"row_number() OVER (PARTITION BY pid ORDER BY seen) AS k FROM ({distinct}) d"
        )
        return (
            "SELECT pid, jsonb_agg(v ORDER BY seen) AS value, count(*)::float8 AS number, "
            "string_agg(shown, ', ' ORDER BY seen) AS text "
            f"FROM ({ranked}) r WHERE k <= %(kept)s GROUP BY pid"
        )
    raise ValueError(f"no SQL for the kind {kind!r}")


def refresh(
    traits: Sequence[tuple[Any, engine.Definition]], ids: list[int] | None, now: datetime
) -> None:
    """Replace the values of `traits` for `ids` (every profile when None)."""
    table = _q(ProfileTraitValue._meta.db_table)
    scoped = ids is not None
    with connection.cursor() as cursor:
        for trait, definition in traits:
            events, params = _events(definition, now, scoped)
            params |= {"trait": trait.pk, "number_text": _NUMBER_TEXT, "kept": engine.UNIQUE_KEPT}
            if scoped:
                params["ids"] = ids
                cursor.execute(
                    f"DELETE FROM {table} WHERE trait_id = %(trait)s AND profile_id = ANY(%(ids)s)",
                    params,
                )
            else:
                cursor.execute(f"DELETE FROM {table} WHERE trait_id = %(trait)s", params)
            cursor.execute(
                f"INSERT INTO {table} (trait_id, profile_id, value, number, text) "
                "SELECT %(trait)s, pid, value, number, left(COALESCE(text, ''), 255) "
                f"FROM ({_values(definition.kind, events, scoped)}) computed",
                params,
            )
