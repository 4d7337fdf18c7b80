"""Ids in batches, for `IN` lists: PostgreSQL takes at most 65,535 parameters in one
statement, and shorter lists plan better. Pure: no Django."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

Id = TypeVar("Id", bound="SupportsRichComparison")

BATCH = 10_000


def id_batches(ids: Iterable[Id], size: int = BATCH) -> Iterator[list[Id]]:
    """`ids` sorted, in lists of at most `size`."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]
