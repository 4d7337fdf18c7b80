"""Cleaning match records before they are compared. Pure: pyarrow compute, no Splink.

Every entry point of the matching engine cleans its input with `prepare_records` first,
so callers may hand over raw or already prepared records.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from identity.engine.matching.columns import MATCH_COLUMNS
from identity.engine.names import NICKNAMES  # the nicknames dataset, one name's forms

# One form per first name, for blocking and the deterministic rules (equi-joins): the
# first of its forms in alphabetical order, so that "bill" and "william" (a form of
# "bill") and "billy" land on the same one more often than not.
CANONICAL_FIRST_NAME: dict[str, str] = {name: forms[0] for name, forms in NICKNAMES.items()}

# Street words and the abbreviation postal services use for them.
STREET_ABBREVIATIONS: dict[str, str] = {
    "apartment": "apt",
    "avenue": "ave",
    "boulevard": "blvd",
    "circle": "cir",
    "court": "ct",
    "crescent": "cres",
    "drive": "dr",
    "east": "e",
    "highway": "hwy",
    "lane": "ln",
    "mount": "mt",
    "north": "n",
    "parkway": "pkwy",
    "place": "pl",
    "road": "rd",
    "south": "s",
    "square": "sq",
    "street": "st",
    "suite": "ste",
    "terrace": "ter",
    "west": "w",
}

# An email or phone on more profiles than this is a placeholder ("none@none.com",
# "+10000000000"), not a person: it is treated as missing, so that it neither links
# strangers nor makes blocking on it compare every pair of its profiles.
PLACEHOLDER_MIN_PROFILES = 50


def _blank_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _squash_spaces(values: pa.ChunkedArray) -> pa.ChunkedArray:
    values = pc.replace_substring_regex(values, r"\s+", " ")
    return _blank_to_null(pc.utf8_trim_whitespace(values))


def _clean_name(values: pa.ChunkedArray) -> pa.ChunkedArray:
    # "José O'Brien-Smith" -> "jose obrien smith": accents, apostrophes and dots go.
    values = pc.utf8_normalize(values, form="NFKD")
    values = pc.replace_substring_regex(values, r"\p{M}+", "")
    values = pc.utf8_lower(values)
    values = pc.replace_substring_regex(values, r"['.`’]", "")
    values = pc.replace_substring_regex(values, r"[^\p{L}]+", " ")
    return _squash_spaces(values)


_NAMES = pa.array(list(NICKNAMES), pa.string())
_CANONICAL = pa.array([CANONICAL_FIRST_NAME[name] for name in NICKNAMES], pa.string())
_FORMS = pa.array([list(forms) for forms in NICKNAMES.values()], pa.list_(pa.string()))


def _canonical_first_name(first_name: pa.ChunkedArray) -> pa.ChunkedArray:
    position = pc.index_in(first_name, value_set=_NAMES)
    return pc.coalesce(pc.take(_CANONICAL, position), first_name)


def _first_name_forms(first_name: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each first name's forms (itself when the dataset does not know it; null when
    there is no first name)."""
    position = pc.index_in(first_name, value_set=_NAMES).combine_chunks()
    known = pc.take(_FORMS, position)
    alone = pa.ListArray.from_arrays(
        pa.array(range(len(first_name) + 1), pa.int32()), first_name.combine_chunks()
    )
    forms = pc.if_else(pc.is_valid(position), known, alone)
    return pa.chunked_array(
        [pc.if_else(pc.is_valid(first_name.combine_chunks()), forms, pa.scalar(None, forms.type))]
    )


def _clean_street(values: pa.ChunkedArray) -> pa.ChunkedArray:
    values = pc.utf8_lower(values)
    values = pc.replace_substring_regex(values, r"[^\p{L}\p{N}]+", " ")
    for word, abbreviation in STREET_ABBREVIATIONS.items():
        values = pc.replace_substring_regex(values, rf"\b{word}\b", abbreviation)
    return _squash_spaces(values)


def _clean_postal_code(values: pa.ChunkedArray) -> pa.ChunkedArray:
    # "sw1a 1aa" -> "SW1A1AA"; US ZIP+4 "94110-1234" -> "94110".
    values = pc.replace_substring_regex(pc.utf8_upper(values), r"[^\p{L}\p{N}]+", "")
    values = pc.replace_substring_regex(values, r"^(\d{5})\d{4}$", r"\1")
    return _blank_to_null(values)


def _clean_birthday(values: pa.ChunkedArray) -> pa.ChunkedArray:
    # Ingestion stores the dates it can read as ISO (cdp.engine.dates); records handed
    # over raw may still say 19850312 or 1985-03-12T00:00:00, which mean one date only.
    values = pc.utf8_trim_whitespace(values)
    values = pc.replace_substring_regex(values, r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    values = pc.replace_substring_regex(values, r"^(\d{4}-\d{2}-\d{2})[T ].*$", r"\1")
    valid = pc.match_substring_regex(values, r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    return pc.if_else(valid, values, pa.scalar(None, pa.string()))


def prepare_records(table: pa.Table) -> pa.Table:
    """The records cleaned for matching, one row per input row.

    Names, emails and cities lower-cased and trimmed, a first name's nickname forms in
    `first_name_forms` (one of them, for equi-joins, in `first_name_canonical`), phones
    reduced to digits and '+', postcodes upper-cased without spaces, streets with their
    words abbreviated, birthdays that read as no ISO date (`YYYY-MM-DD`, `YYYYMMDD`,
    ISO with a time) left out of the comparison. Missing columns and empty strings become nulls.
    Cleaning cleaned records changes nothing.
    """
    if "unique_id" not in table.column_names:
        raise ValueError("records need a 'unique_id' column (the profile id)")
    ids = table["unique_id"]
    if ids.null_count or pc.count_distinct(ids).as_py() != table.num_rows:
        raise ValueError("'unique_id' must be set on every record and differ between records")
    columns: dict[str, pa.ChunkedArray] = {}
    for name in MATCH_COLUMNS:
        if name in table.column_names:
            columns[name] = pc.cast(table[name], pa.string())
        else:
            columns[name] = pa.chunked_array([pa.nulls(table.num_rows, pa.string())])

    first_name = _clean_name(columns["first_name"])
    cleaned = {
        "unique_id": pc.cast(ids, pa.int64()),
        "first_name": first_name,
        "last_name": _clean_name(columns["last_name"]),
        "email": _squash_spaces(pc.utf8_lower(columns["email"])),
        "phone": _blank_to_null(pc.replace_substring_regex(columns["phone"], r"[^\d+]", "")),
        "birthday": _clean_birthday(columns["birthday"]),
        "street": _clean_street(columns["street"]),
        "city": _squash_spaces(pc.utf8_lower(columns["city"])),
        "postal_code": _clean_postal_code(columns["postal_code"]),
        "first_name_canonical": _canonical_first_name(first_name),
        "first_name_forms": _first_name_forms(first_name),
    }
    return pa.table(cleaned)


def without_placeholders(records: pa.Table) -> pa.Table:
    """The records with every email and phone on more than PLACEHOLDER_MIN_PROFILES
    records blanked (treated as missing)."""
    for name in ("email", "phone"):
        counts = pc.value_counts(records[name])
        common = pc.filter(
            counts.field("values"),
            pc.greater(counts.field("counts"), PLACEHOLDER_MIN_PROFILES),
        )
        if len(common):
            column = records[name]
            blanked = pc.if_else(
                pc.is_in(column, value_set=common), pa.scalar(None, pa.string()), column
            )
            records = records.set_column(records.schema.get_field_index(name), name, blanked)
    return records
