"""The standard traits of a customer record, and mapping a file's own column names onto
them (a CRM export's `given_name` is our `first_name`). Pure: no Django."""

from __future__ import annotations

from collections.abc import Mapping

from cdp.errors import InvalidField

STANDARD_TRAITS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "street",
    "city",
    "postal_code",
    "state",
    "country",
)


def parse_column_mapping(text: str, *, field: str = "map") -> dict[str, str]:
    """`given_name=first_name,surname=last_name` as {file column: standard trait},
    checked as `check_column_mapping` does."""
    mapping: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        column, equals, trait = part.partition("=")
        if not equals or not column.strip() or not trait.strip():
            raise InvalidField(f"{part!r} is not column=trait", field=field)
        if column.strip() in mapping:
            raise InvalidField(f"column {column.strip()!r} is mapped twice", field=field)
        mapping[column.strip()] = trait.strip()
    return check_column_mapping(mapping, field=field)


def check_column_mapping(mapping: object, *, field: str = "column_mapping") -> dict[str, str]:
    """The mapping when every value names a standard trait, each at most once; otherwise
    InvalidField naming the trait that is not one."""
    if not isinstance(mapping, Mapping):
        raise InvalidField("must be an object of file column: standard trait", field=field)
    seen: dict[str, str] = {}
    for column, trait in mapping.items():
        if not isinstance(column, str) or not isinstance(trait, str):
            raise InvalidField("columns and traits must be text", field=field)
        if trait not in STANDARD_TRAITS:
            raise InvalidField(
                f"{trait!r} (for column {column!r}) is not a standard trait; "
                f"use one of {', '.join(STANDARD_TRAITS)}",
                field=field,
            )
        if trait in seen:
            raise InvalidField(
                f"{seen[trait]!r} and {column!r} are both mapped to {trait!r}", field=field
            )
        seen[trait] = column
    return dict(mapping)


def apply_column_mapping(
    row: Mapping[str, object], mapping: Mapping[str, str]
) -> dict[str, object]:
    """The row with its mapped columns renamed; the others (custom traits) as they were.
    A mapped column wins over a column already named like its trait."""
    renamed = {key: value for key, value in row.items() if key not in mapping}
    for column, trait in mapping.items():
        if column in row:
            renamed[trait] = row[column]
    return renamed
