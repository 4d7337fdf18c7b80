"""What profile matching reads and compares: the trait columns of a match record and
the comparisons the model scores. Plain data, no Splink: pages and services that only
need the names import this without loading Splink and DuckDB."""

from __future__ import annotations

# The traits a match record holds (besides `unique_id`, the record's id), as the
# profile's traits name them.
MATCH_COLUMNS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "street",
    "city",
    "postal_code",
)

# The comparisons the model scores, in its order, and the traits each reads (the
# address comparison reads three): a scored pair's `levels` has one label per comparison.
# Pages show a stored pair's levels in this order (stored as JSON, whose key order
# PostgreSQL does not keep).
COMPARED_TRAITS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "email": ("email",),
    "phone": ("phone",),
    "birthday": ("birthday",),
    "address": ("street", "city", "postal_code"),
}

# The level labels every comparison has besides its own: no value on one side, and
# values that agree at no level.
MISSING = "Missing"
DIFFERENT = "Different"
