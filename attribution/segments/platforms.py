"""The ad platforms' audience files: each identifier normalised exactly as the platform
documents it, then hashed with SHA-256 where the platform requires it. Pure: no Django
(phonenumbers for E.164, pycountry for country and US state codes).

Google Ads Customer Match (the upload file of Google Ads, and the Data Manager API's
"Format user data" rules):
- Email: all whitespace removed, lower-cased; on gmail.com / googlemail.com the dots
  of the local part and a "+suffix" are removed (cloudy.sanfrancisco+shopping@gmail.com
  -> cloudysanfrancisco@gmail.com; user.name+NYC@Example.com -> user.name+nyc@example.com);
  SHA-256, hex.
- Phone: E.164 with the "+" and the country code ((800)555-0100 in the US ->
  +18005550100); SHA-256, hex.
- First Name, Last Name: lower-cased, trimmed, no prefix (Mrs.) or suffix (Jr.);
  SHA-256, hex.
- Country: ISO 3166-1 alpha-2, upper case, not hashed; Zip: as written, trimmed, not
  hashed (a US zip its first five digits).

Meta Custom Audiences (customer list, multi-key schema EMAIL, PHONE, FN, LN, ZIP, CT,
ST, COUNTRY, DOBY, GEN; every value hashed with SHA-256):
- EMAIL: trimmed, lower-cased.
- PHONE: digits only, with the country code, no "+" and no leading zero (+44 844 412
  4653 -> 448444124653).
- FN, LN: lower-cased, letters only (no punctuation, no spaces), accents kept (UTF-8).
- ZIP: lower-cased, no spaces or dashes; a US zip its first five digits.
- CT: lower-cased a-z only (accents folded, no spaces or punctuation).
- ST: a US state its two-letter ANSI code, lower-cased; elsewhere like CT.
- COUNTRY: ISO 3166-1 alpha-2, lower-cased.
- DOBY: the four-digit birth year; GEN: m or f.

A value that cannot be normalised (no digits in a phone, an unknown country) is left
empty rather than guessed; an empty value is never hashed (the hash of "" would match
nobody and count as an identifier).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import phonenumbers
import pycountry

GOOGLE_ADS = "google_ads"
META_ADS = "meta_ads"

GOOGLE_COLUMNS = ("Email", "Phone", "First Name", "Last Name", "Country", "Zip")
META_COLUMNS = ("email", "phone", "fn", "ln", "zip", "ct", "st", "country", "doby", "gen")

_GMAIL = {"gmail.com", "googlemail.com"}
_PREFIXES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"}
_SPACE = re.compile(r"\s+")
_BIRTH_YEAR = re.compile(r"^\s*(\d{4})")


def sha256(value: str) -> str:
    """The hex SHA-256 of a normalised value ("" stays "": nothing to match on)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest() if value else ""


@functools.lru_cache(maxsize=4096)
def country_code(value: str | None) -> str:
    """ISO 3166-1 alpha-2 (upper case) of a code or a country's name; "" if unknown."""
    text = (value or "").strip()
    if not text:
        return ""
    if len(text) == 2 and pycountry.countries.get(alpha_2=text.upper()):
        return text.upper()
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return ""


def e164(phone: str | None, country: str | None = None) -> str:
    """The phone number in E.164 (+ and country code), read in the profile's country
    when written without one; "" when it is not a possible number."""
    text = (phone or "").strip()
    if not text:
        return ""
    region = country_code(country) or None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        # No country to read it in: digits written with their country code but no "+"
        # (1-234-567-8910) are read as international.
        if region or not text[:1].isdigit():
            return ""
        try:
            parsed = phonenumbers.parse("+" + text, None)
        except phonenumbers.NumberParseException:
            return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def google_email(email: str | None) -> str:
    text = _SPACE.sub("", email or "").lower()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        return ""
    if domain in _GMAIL:
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=65536)
def google_name(name: str | None) -> str:
    """Lower-cased, trimmed, without a leading title or a trailing suffix."""
    words = _SPACE.split((name or "").strip().lower())
    words = [w for w in words if w]
    while len(words) > 1 and words[0].rstrip(".") in _PREFIXES:
        words = words[1:]
    while len(words) > 1 and words[-1].rstrip(".").replace(",", "") in _SUFFIXES:
        words = words[:-1]
    return " ".join(words).rstrip(",")


def us_zip(zip_code: str | None, country: str) -> str:
    text = (zip_code or "").strip()
    if country == "US":
        digits = re.sub(r"\D", "", text)
        return digits[:5] if len(digits) >= 5 else ""
    return text


def meta_email(email: str | None) -> str:
    text = (email or "").strip().lower()
    return text if "@" in text else ""


def meta_phone(phone: str | None, country: str | None = None) -> str:
    """Digits only, country code first, no "+" and no leading zero."""
    return e164(phone, country).lstrip("+")


@functools.lru_cache(maxsize=65536)
def meta_name(name: str | None) -> str:
    """Lower-cased letters only (accents kept as UTF-8), no punctuation or spaces."""
    return "".join(c for c in (name or "").lower() if c.isalpha())


@functools.lru_cache(maxsize=65536)
def _ascii_letters(text: str | None) -> str:
    folded = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in folded if "a" <= c <= "z")


def meta_zip(zip_code: str | None, country: str) -> str:
    text = re.sub(r"[\s\-]", "", (zip_code or "").lower())
    if country == "US":
        return text[:5] if len(text) >= 5 and text[:5].isdigit() else ""
    return text


@functools.lru_cache(maxsize=4096)
def meta_state(state: str | None, country: str) -> str:
    text = (state or "").strip()
    if country == "US" and text:
        if len(text) == 2 and text.isalpha():
            return text.lower()
        for subdivision in pycountry.subdivisions.get(country_code="US") or ():
            if _ascii_letters(subdivision.name) == _ascii_letters(text):
                return str(subdivision.code).split("-", 1)[1].lower()
    return _ascii_letters(text)


def birth_year(birthday: str | None) -> str:
    """The YYYY of a birthday written as an ISO date (1984-03-07) or a year alone."""
    found = _BIRTH_YEAR.match(str(birthday or ""))
    if not found or not 1900 <= int(found.group(1)) <= 2100:
        return ""
    return found.group(1)


def gender(value: str | None) -> str:
    text = (value or "").strip().lower()
    if text in ("m", "male", "man"):
        return "m"
    if text in ("f", "female", "woman"):
        return "f"
    return ""


@dataclass(frozen=True)
class Person:
    """What a profile contributes to an audience file, raw (as stored)."""

    email: str = ""
    phone: str = ""
    # The phone as identity stored it: already E.164, by the same phonenumbers reading as
    # `e164` (identity.engine.normalize), so not parsed again (that parse is most of a
    # row's time). "" when the phone is a trait as written.
    phone_e164: str = ""
    first_name: str = ""
    last_name: str = ""
    postal_code: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    birthday: str = ""
    gender: str = ""

    @classmethod
    def of_fields(cls, identifiers: Mapping[str, str], fields: Mapping[str, str]) -> Person:
        """From a profile's identifiers and its TRAITS fields already read (each the
        first of its trait names that is set, as text; "" if none is)."""
        phone = identifiers.get("phone", "")
        return cls(
            email=identifiers.get("email", "") or fields["email"],
            phone=phone or fields["phone"],
            phone_e164=phone,
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            postal_code=fields["postal_code"],
            city=fields["city"],
            state=fields["state"],
            country=fields["country"],
            birthday=fields["birthday"],
            gender=fields["gender"],
        )


# A Person's fields read from traits: the trait names that may hold each, first first.
TRAITS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone",),
    "first_name": ("first_name", "firstName"),
    "last_name": ("last_name", "lastName"),
    "postal_code": ("postal_code", "zip", "postalCode"),
    "city": ("city",),
    "state": ("state",),
    "country": ("country",),
    "birthday": ("birthday", "date_of_birth", "birth_date"),
    "gender": ("gender",),
}


def _e164(person: Person, country: str) -> str:
    return person.phone_e164 or e164(person.phone, country)


def google_row(person: Person) -> dict[str, str]:
    """A Customer Match row (hashed email, phone, names; plain country and zip)."""
    country = country_code(person.country)
    return {
        "Email": sha256(google_email(person.email)),
        "Phone": sha256(_e164(person, country)),
        "First Name": sha256(google_name(person.first_name)),
        "Last Name": sha256(google_name(person.last_name)),
        "Country": country,
        "Zip": us_zip(person.postal_code, country),
    }


def meta_row(person: Person) -> dict[str, str]:
    """A Custom Audiences multi-key row: every value normalised, then SHA-256."""
    country = country_code(person.country)
    plain = {
        "email": meta_email(person.email),
        "phone": _e164(person, country).lstrip("+"),
        "fn": meta_name(person.first_name),
        "ln": meta_name(person.last_name),
        "zip": meta_zip(person.postal_code, country),
        "ct": _ascii_letters(person.city),
        "st": meta_state(person.state, country),
        "country": country.lower(),
        "doby": birth_year(person.birthday),
        "gen": gender(person.gender),
    }
    return {column: sha256(value) for column, value in plain.items()}


COLUMNS = {GOOGLE_ADS: GOOGLE_COLUMNS, META_ADS: META_COLUMNS}
ROWS = {GOOGLE_ADS: google_row, META_ADS: meta_row}


def matchable(platform: str, row: Mapping[str, str]) -> bool:
    """Whether the platform can match the row at all: an email or a phone, or (Google)
    the full name-and-address key (first and last name, country, zip)."""
    if platform == GOOGLE_ADS:
        if row["Email"] or row["Phone"]:
            return True
        return all(row[c] for c in ("First Name", "Last Name", "Country", "Zip"))
    return any(row[c] for c in ("email", "phone")) or all(row[c] for c in ("fn", "ln", "zip"))
