"""Normalising identifier values so that the same person's ids compare equal. Pure."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

BLANK_VALUES = frozenset({"", "null", "none", "undefined", "nil", "n/a", "na", "0", "-"})


def normalize_email(value: str) -> str | None:
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain:
        return None
    return email


def normalize_phone(value: str, *, default_region: str) -> str | None:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_region(country: object, default_region: str) -> str:
    """The region to read national phone numbers in: the record's own country when it is
    a two-letter code phonenumbers knows ("GB" reads "07589 729978" as +44...), else the
    default."""
    if isinstance(country, str) and country.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
        return country.strip().upper()
    return default_region


def normalize_identifier(kind: str, value: object, *, default_region: str = "US") -> str | None:
    """The canonical form of an identifier value, or None when it identifies nobody."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, str | int | float):
        return _normalized(kind, value, default_region)
    return _normalize(kind, value, default_region)


def _normalize(kind: str, value: object, default_region: str) -> str | None:
    text = str(value).strip()
    if text.lower() in BLANK_VALUES or set(text) <= {"0"}:
        return None
    if kind == "email":
        return normalize_email(text)
    if kind == "phone":
        return normalize_phone(text, default_region=default_region)
    if kind == "hashed_email":
        return text.lower()
    return text[:255]


# Stitching reads the same few ids on every event a person sends (an anonymous id on each
# page view, a phone on each identify): each is parsed once per process, not per event.
_normalized = lru_cache(maxsize=2**16, typed=True)(_normalize)
