"""Bulk writes: PostgreSQL's COPY where it is there, Django's bulk_create elsewhere; and
the settings of PostgreSQL's bulk statements."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson
from django.db import IntegrityError, connection, models, transaction
from django.db.models.options import Options
from psycopg.types.json import Jsonb


def _json_bytes(value: Any, default: Any = None) -> bytes | str:
    """JSON for a jsonb column: orjson (a tenth of the stdlib's time per value), or the
    stdlib for what orjson refuses (integers beyond 64 bits, lone surrogates), so what
    is stored is the same either way. `default` writes what JSON has no type for."""
    try:
        return orjson.dumps(value, default=default)
    except orjson.JSONEncodeError:
        return json.dumps(value, default=default)


def _column(field: models.Field[Any, Any]) -> str:
    """The column of a concrete field (Django leaves it None only on fields without one)."""
    if field.column is None:
        raise ValueError(f"{field.name}: has no column")
    return field.column


def _concrete_field(meta: Options[Any], name: str) -> models.Field[Any, Any]:
    field = meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{name}: not a column of {meta.db_table}")
    return field


def column_of(model: type[models.Model], name: str) -> str:
    """The column of one of `model`'s concrete fields, by field name."""
    return _column(_concrete_field(model._meta, name))


@lru_cache(maxsize=32)
def _copy_plan(
    model: type[models.Model],
) -> tuple[list[models.Field], list[str], frozenset[str], str]:
    """The fields COPY writes, their names, which are JSON, and the statement: the same
    for every batch (a single event must not pay for building them)."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = [field.attname for field in fields]
    json = frozenset(field.attname for field in fields if isinstance(field, models.JSONField))
    columns = ", ".join(connection.ops.quote_name(_column(field)) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    return fields, names, json, f"COPY {table} ({columns}) FROM STDIN"


def copy_rows(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (field attname -> Python value, as normalised for the model; missing
    fields take their defaults) into `model`'s table with one COPY.

    For speed it skips Django's per-field preparation, so it is only for rows whose
    values are already what the columns take: strings, numbers, aware datetimes, None,
    and JSON-serialisable values for JSON fields. Raises IntegrityError on a unique
    conflict, as an INSERT would.
    """
    fields, names, json, statement = _copy_plan(model)
    defaults = {field.attname: field.get_default() for field in fields}
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(statement) as copy:
            for row in rows:
                values = {**defaults, **row}
                copy.write_row(
                    [
                        Jsonb(values[name], dumps=_json_bytes) if name in json else values[name]
                        for name in names
                    ]
                )


def copy_columns(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert plain tuples into the columns of `model`'s fields `names` (in that order)
    with one COPY: no defaults filled in and no JSON, for rows of ids and numbers
    (hundreds of thousands of them, where building a mapping per row costs more than the
    COPY). Returns how many rows went in."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column_of(model, name)) for name in names)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return int(cursor.cursor.rowcount)


def insert_columns(
    model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert plain tuples into the fields `names` (in that order; values as the columns
    take them): one COPY on PostgreSQL (copy_columns), bulk_create elsewhere."""
    if connection.vendor == "postgresql":
        copy_columns(model, names, rows)
    else:
        model._default_manager.bulk_create(
            [model(**dict(zip(names, row, strict=True))) for row in rows], batch_size=1000
        )


def copy_if_all_new(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> bool:
    """COPY `rows` in if none of them is already stored (PostgreSQL only): True when they
    went in, False (and nothing written) when one broke a unique constraint.

    Inside a transaction the COPY runs in a savepoint, so that a conflict does not end
    the caller's; outside one it is its own transaction (autocommit: one round trip)."""
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                copy_rows(model, rows)
        else:
            copy_rows(model, rows)
    except IntegrityError:
        return False
    return True


def bulk_set(
    model: type[models.Model],
    ids: Sequence[int],
    values: Mapping[str, Sequence[Any]],
    **constants: Any,
) -> None:
    """Set, for each primary key in `ids`, the fields in `values` (field attname -> one
    value per id) and the `constants` (the same for all).

    PostgreSQL: one `UPDATE ... FROM jsonb_to_recordset(...)`, the rows sent as one JSON
    document. Django's bulk_update builds a CASE per field with a branch per row, which
    took 80% of stitching's time on 30,000 touchpoints; one array parameter per field
    cost the driver a second per 70,000 rows to quote element by element. Elsewhere
    (the embedded SQLite): bulk_update.
    """
    if not ids:
        return
    if connection.vendor != "postgresql":
        objects = [
            model(pk=pk, **{name: column[i] for name, column in values.items()}, **constants)
            for i, pk in enumerate(ids)
        ]
        model._default_manager.bulk_update(objects, [*values, *constants], batch_size=1000)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = {name: _concrete_field(meta, name) for name in [*values, *constants]}
    names = [f"c{index}" for index in range(1, len(values) + 1)]
    # Each column as its type without a length ("varchar", "numeric"): the table's own
    # column then checks the length, as any UPDATE would, instead of a cast cutting it.
    columns = [f"id {_base_type(meta.pk)}"] + [
        f"{name} {_base_type(fields[field])}" for name, field in zip(names, values, strict=True)
    ]
    assignments = [
        f"{quote(_column(fields[field]))} = v.{name}"
        for name, field in zip(names, values, strict=True)
    ]
    set_params: list[Any] = []
    for name, value in constants.items():
        field = fields[name]
        assignments.append(f"{quote(_column(field))} = %s")
        set_params.append(field.get_db_prep_save(value, connection))
    rows = [
        dict(zip(["id", *names], row, strict=True))
        for row in zip(ids, *values.values(), strict=True)
    ]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {', '.join(assignments)} "
        f"FROM jsonb_to_recordset(%s) AS v({', '.join(columns)}) "
        f"WHERE t.{quote(_column(meta.pk))} = v.id"
    )
    with connection.cursor() as cursor:
        params: list[Any] = [*set_params, Jsonb(rows, dumps=_json_with_text)]
        cursor.execute(sql, params)


def _base_type(field: models.Field[Any, Any]) -> str:
    """The column's type without its modifiers: `varchar(255)` -> `varchar`,
    `numeric(14, 2)[]` -> `numeric[]`."""
    return re.sub(r"\([^)]*\)", "", field.db_type(connection) or "text")


def _json_with_text(value: Any) -> bytes | str:
    """JSON for bulk_set's rows: what JSON has no type for (Decimal) written as text,
    which the recordset's typed columns read back."""
    return _json_bytes(value, default=str)


@contextmanager
def statement_settings(**values: str) -> Iterator[None]:
    """PostgreSQL settings (`work_mem="64MB"`, `jit="off"`) for the statements run inside,
    and for them only: set transaction-locally inside a savepoint (or a transaction) of
    their own, then put back; an error rolls them back with the savepoint. Elsewhere it
    does nothing."""
    if connection.vendor != "postgresql":
        yield
        return
    names = list(values)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
        before = cursor.fetchone()
        _set_locally(cursor, [(name, values[name]) for name in names])
        yield
        _set_locally(cursor, list(zip(names, before, strict=True)))


def _set_locally(cursor: Any, settings: list[tuple[str, str]]) -> None:
    cursor.execute(
        "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
        [part for setting in settings for part in setting],
    )
