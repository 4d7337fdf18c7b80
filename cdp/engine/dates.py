"""Reading the dates customers' records carry (a birthday, a sign-up date), in whatever
format their system wrote them. Pure: no Django.

CRM and POS exports write dates as `1985-03-12`, `19850312`, `12/03/1985`, `03/12/85` or
`12.03.1985`. Each is read into ISO `YYYY-MM-DD`; an ambiguous one (`03/04/1985`) in the
day/month order its source uses, or, when the source does not say, the order of the
record's country (from the CLDR short date format, through babel). A value that cannot
be read is never dropped: the caller keeps it as given and reports it.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import Any

DATE_ORDERS = ("DMY", "MDY", "YMD")
# When neither the source nor the record says: the order most of the world writes.
DEFAULT_DATE_ORDER = "DMY"

_TIME = r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?"
_ISO = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:{_TIME})?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,4})[/.\-\s](\d{1,2})[/.\-\s](\d{1,4})$")


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _full_year(two_digits: int, *, today: dt.date, past: bool) -> int:
    """A two-digit year in the century that puts it in the past (for birthdays), or
    within 50 years of today otherwise."""
    year = today.year // 100 * 100 + two_digits
    if past:
        return year - 100 if year > today.year else year
    if year > today.year + 50:
        return year - 100
    return year


def _numeric(value: str, order: str, *, today: dt.date, past: bool) -> dt.date | None:
    match = _NUMERIC.match(value)
    if match is None:
        return None
    first, second, third = match.groups()
    if len(first) == 4:  # 1985/03/12: year first whatever the order
        return _valid(int(first), int(second), int(third))
    if len(third) not in (2, 4):
        return None
    year = int(third) if len(third) == 4 else _full_year(int(third), today=today, past=past)
    a, b = int(first), int(second)
    day, month = (b, a) if order == "MDY" else (a, b)
    if month > 12 >= day:  # 25/12/1985 read as MDY: only one order is a date
        day, month = month, day
    return _valid(year, month, day)


def read_date(
    value: object,
    *,
    order: str = DEFAULT_DATE_ORDER,
    past: bool = False,
    today: dt.date | None = None,
) -> str | None:
    """`value` as an ISO date `YYYY-MM-DD`, or None when it cannot be read as one.

    `order` ("DMY", "MDY" or "YMD") settles ambiguous dates such as `03/04/1985`; a
    date that is valid in one order only is read in that order. `past` (birthdays)
    puts a two-digit year in the last hundred years. Numeric formats are read directly;
    anything else ("12 March 1985", "March 12, 1985") by dateparser.
    """
    if order not in DATE_ORDERS:
        raise ValueError(f"order must be one of {DATE_ORDERS}, got {order!r}")
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    today = today or dt.date.today()
    if match := _ISO.match(text):
        date = _valid(*(int(part) for part in match.groups()))
    elif match := _COMPACT.match(text):
        date = _valid(*(int(part) for part in match.groups()))
    elif _NUMERIC.match(text):
        date = _numeric(text, order, today=today, past=past)
    elif any(character.isalpha() for character in text):
        date = _words(text, order, today=today, past=past)
    else:
        date = None
    return date.isoformat() if date else None


def _words(text: str, order: str, *, today: dt.date, past: bool) -> dt.date | None:
    import dateparser  # a second to import its locale data: only for dates in words

    parsed = dateparser.parse(
        text,
        languages=None,
        settings={
            "DATE_ORDER": order,
            "STRICT_PARSING": True,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "PREFER_DATES_FROM": "past" if past else "current_period",
            "RELATIVE_BASE": dt.datetime(today.year, today.month, today.day),
        },
    )
    if parsed is None:
        return None
    date: dt.date | None = parsed.date()
    if past and date is not None and date > today:
        date = _valid(date.year - 100, date.month, date.day)
    return date


@lru_cache(maxsize=512)
def date_order_for_country(country: str | None) -> str:
    """The day/month order people in `country` write dates in ("DMY", "MDY", "YMD"),
    from CLDR's short date format for the country's main language; DEFAULT_DATE_ORDER
    when the country is missing or unknown. Accepts ISO codes and English names."""
    code = _country_code(country)
    if code is None:
        return DEFAULT_DATE_ORDER
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(f"und_{code}")
    except (UnknownLocaleError, ValueError):
        return DEFAULT_DATE_ORDER
    pattern = locale.date_formats["short"].pattern.lower()
    positions = {part: pattern.find(part) for part in "dmy"}
    if min(positions.values()) < 0:
        return DEFAULT_DATE_ORDER
    return "".join(sorted("dmy", key=positions.__getitem__)).upper()


def _country_code(country: str | None) -> str | None:
    if not country or not isinstance(country, str):
        return None
    import pycountry

    try:
        found = pycountry.countries.lookup(country.strip())
    except LookupError:
        return None
    return str(found.alpha_2)


def is_date_trait(name: str) -> bool:
    """Traits read as dates: the birthday and any trait named `..._date`."""
    return name == "birthday" or name.endswith("_date")


def read_date_traits(traits: dict[str, Any], *, order: str | None) -> list[str]:
    """Rewrite the date traits of `traits` in place as ISO dates; returns the names of
    those that could not be read (left as given). Without `order`, the order of the
    record's own `country` trait."""
    unreadable = []
    for name, value in traits.items():
        if not isinstance(name, str) or not is_date_trait(name) or value in (None, ""):
            continue
        read = read_date(
            value,
            order=order or date_order_for_country(traits.get("country")),
            past=name == "birthday",
        )
        if read is None:
            unreadable.append(name)
        else:
            traits[name] = read
    return unreadable
