"""Filters for "this column is one of these (many) ids".

On PostgreSQL the whole list goes as one array parameter, `column = ANY(%s)`: one
statement for a million ids, planned with a hashed lookup. A chunked `IN` list instead
sends at most 10,000 parameters per statement and costs a round trip and a plan per
chunk (18.8 s against 0.8 s for the consent of one 1M-profile segment). Other databases
(SQLite, embedded) get the chunked `IN` lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from django.db import connection
from django.db.models import Field, ForeignObject, Lookup, Q

from cdp.engine.batches import id_batches


def id_array(ids: Iterable[int]) -> str:
    """The ids as one PostgreSQL array literal, `{1,2,3}` (to cast `::bigint[]`): a
    string the driver sends as it is, where a list of 700,000 ints costs it seconds to
    adapt one by one."""
    return "{" + ",".join(map(str, ids)) + "}"


class AnyOf(Lookup):
    """`field__any_of=[...]`: `field = ANY(array)`, PostgreSQL only."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        values = list(value)
        if all(type(v) is int for v in values):
            return "%s::bigint[]", [id_array(values)]
        return "%s", [values]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


# Foreign keys keep lookups of their own; register on both.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def id_groups(ids: Collection[int]) -> Iterator[list[int]]:
    """`ids` in the groups to query them in: all at once on PostgreSQL, batches of
    10,000 elsewhere."""
    if not ids:
        return
    if connection.vendor == "postgresql":
        yield sorted(ids)
    else:
        yield from id_batches(ids)


def one_of(field: str, ids: list[int] | list[str]) -> Q:
    """`field` is one of `ids` (a group from `id_groups`, or a batch's text values)."""
    lookup = "any_of" if connection.vendor == "postgresql" else "in"
    return Q(**{f"{field}__{lookup}": ids})


def ids_in(field: str, ids: Collection[int]) -> Iterator[Q]:
    """The conditions that together select rows whose `field` is in `ids`: one on
    PostgreSQL, one per batch of 10,000 elsewhere. Query once per condition."""
    for group in id_groups(ids):
        yield one_of(field, group)
