"""Identifier values brought to one form, so that the same person's ids compare equal
(identity/engine/normalize.py)."""

import pytest

from identity.engine.normalize import (
    normalize_email,
    normalize_identifier,
    normalize_phone,
    phone_region,
)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (" Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("ann@mail.example.org", "ann@mail.example.org"),
        ("ann", None),  # no @
        ("@example.com", None),  # nobody before the @
        ("ann@localhost", None),  # a domain without a dot
        ("ann@", None),
    ],
)
def test_emails_are_lowered_and_need_a_local_part_and_a_dotted_domain(raw, normal):
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    ("raw", "region", "normal"),
    [
        ("+44 7589 729978", "US", "+447589729978"),  # international: the region is unused
        ("(202) 555-0143", "US", "+12025550143"),
        ("07589 729978", "GB", "+447589729978"),  # national, read in the given region
        ("12", "US", None),  # too short to be a number
        ("call me", "US", None),  # not a number at all
    ],
)
def test_phones_are_written_in_e164(raw, region, normal):
    assert normalize_phone(raw, default_region=region) == normal


def test_a_records_own_country_is_the_region_its_phones_are_read_in():
    assert phone_region(" gb ", "US") == "GB"
    assert phone_region("FR", "US") == "FR"
    assert phone_region("XX", "US") == "US"  # not a region phonenumbers knows
    assert phone_region("United Kingdom", "US") == "US"
    assert phone_region(None, "DE") == "DE"
    assert phone_region(44, "US") == "US"


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        {"id": 1},
        [1],
        "",
        "  ",
        "null",
        " N/A ",
        "None",
        "undefined",
        "0",
        "000",
        "-",
        0,
    ],
)
def test_blank_and_placeholder_values_identify_nobody(value):
    assert normalize_identifier("user_id", value) is None


def test_each_kind_of_identifier_has_its_form():
    assert normalize_identifier("email", " Ann@Example.com ") == "ann@example.com"
    assert normalize_identifier("email", "not an email") is None
    assert normalize_identifier("phone", "202-555-0143") == "+12025550143"  # US by default
    assert normalize_identifier("phone", "07589 729978", default_region="GB") == "+447589729978"
    assert normalize_identifier("hashed_email", " ABCDEF0123 ") == "abcdef0123"
    assert normalize_identifier("user_id", "  User-1 ") == "User-1"  # case kept
    assert normalize_identifier("user_id", 42) == "42"
    assert normalize_identifier("user_id", "100") == "100"  # zeros, but not only zeros
    assert normalize_identifier("user_id", "x" * 300) == "x" * 255
