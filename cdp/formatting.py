"""How every page writes a number: one set of functions (and the template filters of
cdp/templatetags/omnitrail.py over them), so a figure reads the same on every page.

- money: the goal's currency or OMNITRAIL_CURRENCY, grouped, two decimals ("$305,575.29");
- counts: whole numbers, grouped ("1,327");
- credits (fractional conversions): one decimal ("346.0");
- ratios (ROAS) and rates: two decimals ("74.69", "12.34%");
- "—" where there is nothing to show: no cost, no ROAS, no value;
- durations: minutes, hours or days, whichever reads best ("4.6 hours", "3.2 days").

Grouping and symbols follow OMNITRAIL_NUMBER_LOCALE, through Babel (CLDR data).
And one colour per channel, the same on every page and every run.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from babel.numbers import format_currency, format_decimal, format_percent
from django.conf import settings

NOTHING = "—"


def _locale() -> str:
    return settings.OMNITRAIL_NUMBER_LOCALE


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) or math.isinf(number) else number


def money(value: Any, currency: str | None = None) -> str:
    number = _number(value)
    if number is None:
        return NOTHING
    return format_currency(number, currency or settings.OMNITRAIL_CURRENCY, locale=_locale())


def cost(value: Any, currency: str | None = None) -> str:
    """Money spent: "—" where nothing was spent (an unpaid channel), not 0.00."""
    number = _number(value)
    return NOTHING if not number else money(number, currency)


def count(value: Any) -> str:
    number = _number(value)
    return NOTHING if number is None else format_decimal(round(number), locale=_locale())


def credit(value: Any) -> str:
    number = _number(value)
    return NOTHING if number is None else format_decimal(number, "#,##0.0", locale=_locale())


def ratio(value: Any) -> str:
    number = _number(value)
    return NOTHING if number is None else format_decimal(number, "#,##0.00", locale=_locale())


def rate(value: Any) -> str:
    """A share (0.1234) as a percentage with two decimals."""
    number = _number(value)
    return NOTHING if number is None else format_percent(number, "#,##0.00%", locale=_locale())


def duration(seconds: Any) -> str:
    number = _number(seconds)
    if number is None:
        return NOTHING
    minutes = number / 60
    if minutes < 90:
        return f"{format_decimal(round(minutes), locale=_locale())} minutes"
    hours = minutes / 60
    if hours < 48:
        return f"{format_decimal(hours, '#,##0.0', locale=_locale())} hours"
    return f"{format_decimal(hours / 24, '#,##0.0', locale=_locale())} days"


def duration_days(days: Any) -> str:
    number = _number(days)
    return NOTHING if number is None else duration(number * 86_400)


# A table column's format, from its heading: the report tables name their columns in
# words ("Revenue", "ROAS", "Conversions (linear)"), so one rule formats them all.
def column_format(column: str) -> str:
    name = column.lower()
    if "roas" in name or "roi" in name or "ratio" in name:
        return "ratio"
    if "%" in name:
        return "percent"  # the column holds percentages already (61.26)
    if "rate" in name or "share" in name:
        return "ratio"
    if "cost" in name or "spend" in name or "cpa" in name:
        return "cost"
    if "revenue" in name or "value" in name or "clv" in name:
        return "money"
    if "conversion" in name or "credit" in name:
        return "credit"
    return "count"


def percent(value: Any) -> str:
    """A percentage already multiplied by 100 (61.26) with two decimals: "61.26%"."""
    number = _number(value)
    return NOTHING if number is None else f"{ratio(number)}%"


FORMATS = {
    "percent": percent,
    "money": money,
    "cost": cost,
    "count": count,
    "credit": credit,
    "ratio": ratio,
    "rate": rate,
}


def table_cell(value: Any, column: str, currency: str | None = None) -> Any:
    """A numeric table cell formatted for its column (money in `currency`, else
    OMNITRAIL_CURRENCY); anything else as it is."""
    if _number(value) is None or isinstance(value, str):
        return NOTHING if value is None else value
    kind = column_format(column)
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "count" and not whole:
        kind = "ratio"  # a column not named for what it holds: two decimals lose nothing
    elif kind == "credit" and isinstance(value, int):
        kind = "count"  # conversions counted, not credited
    if kind in ("money", "cost"):
        return (money if kind == "money" else cost)(value, currency)
    return FORMATS[kind](value)


# --- Channel colours ---------------------------------------------------------------
# Fixed for the channels of the default rules, so Push and In-store never share one; any
# other channel gets one from its name's hash (the same in every run and process).
CHANNEL_COLOURS = {
    "Direct": "#4c566a",
    "Organic Search": "#2e7d32",
    "Paid Search": "#1565c0",
    "Paid Social": "#ad1457",
    "Organic Social": "#ec407a",
    "Email": "#ef6c00",
    "SMS": "#6a1b9a",
    "Push": "#00897b",
    "In-store": "#795548",
    "Referral": "#9e9d24",
    "Display": "#5e35b1",
    "Affiliates": "#c62828",
    "Paid Shopping": "#0277bd",
    "Organic Shopping": "#558b2f",
    "Paid Video": "#d84315",
    "Organic Video": "#f9a825",
    "Paid Other": "#37474f",
    "Cross-network": "#00838f",
    "Audio": "#8d6e63",
    "Mobile Push Notifications": "#26a69a",
    "Unassigned": "#9e9e9e",
}
SPARE_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
]  # fmt: skip


def channel_colour(channel: Any) -> str:
    name = str(channel or "")
    if name in CHANNEL_COLOURS:
        return CHANNEL_COLOURS[name]
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).digest()
    return SPARE_COLOURS[digest[0] % len(SPARE_COLOURS)]
