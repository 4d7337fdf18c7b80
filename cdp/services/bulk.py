"""Bulk writes: PostgreSQL's COPY where it is there, Django's bulk_create elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from psycopg.types.json import Jsonb


def copy_rows(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (field attname -> Python value, as normalised for the model; missing
    fields take their defaults) into `model`'s table with one COPY.

    For speed it skips Django's per-field preparation, so it is only for rows whose
    values are already what the columns take: strings, numbers, aware datetimes, None,
    and JSON-serialisable values for JSON fields. Raises IntegrityError on a unique
    conflict, as an INSERT would.
    """
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = [field.attname for field in fields]
    defaults = {field.attname: field.get_default() for field in fields}
    json = {field.attname for field in fields if isinstance(field, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = defaults | row
                copy.write_row(
                    [Jsonb(values[name]) if name in json else values[name] for name in names]
                )


def copy_if_all_new(model: type[models.Model], rows: Sequence[Mapping[str, Any]]) -> bool:
    """COPY `rows` in if none of them is already stored (PostgreSQL only): True when they
    went in, False (and nothing written) when one broke a unique constraint."""
    try:
        with transaction.atomic():  # a savepoint: the conflict must not end the caller's
            copy_rows(model, rows)
    except IntegrityError:
        return False
    return True
