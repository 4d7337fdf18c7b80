"""How every chart on the pages looks: each channel in its one colour (the colours of
cdp/formatting.py, the same on every page and in every run), axes named with their unit
(the currency, conversions, days), and whether a figure has anything to draw at all, so
an empty range says "no data for this range" instead of drawing an empty axis.

The layout that depends on the screen (labels angled and margins grown on a phone) is
set where the width is known, in cdp/static/app/app.js.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from babel.numbers import get_currency_symbol
from django.conf import settings

from cdp.formatting import channel_colour

# What a chart that is not about channels draws in: one calm colour, and a dark line.
NEUTRAL = "#3b6ea8"
LINE = "#1f2933"
# Nodes of a journey diagram that are not channels.
CONVERSION_COLOUR = "#1b7a3d"
LATER_TOUCHES_COLOUR = "#9aa3b2"


def channel_colours(channels: Iterable[Any]) -> list[str]:
    """The colour of each channel, in order (a bar per channel)."""
    return [channel_colour(channel) for channel in channels]


def currency_of(currency: str | None) -> str:
    return currency or settings.OMNITRAIL_CURRENCY


def money_axis(title: str, currency: str | None = None) -> dict:
    """An axis of money: its title names the currency ("Credited revenue (USD)") and its
    ticks carry the symbol and thousands separators ("$12,000")."""
    code = currency_of(currency)
    return {
        "title": {"text": f"{title} ({code})"},
        "tickprefix": get_currency_symbol(code, locale=settings.OMNITRAIL_NUMBER_LOCALE),
        "tickformat": ",~f",
        "automargin": True,
    }


def axis(title: str, **extra: Any) -> dict:
    """An axis titled with what it counts and its unit ("Conversions", "Days")."""
    return {"title": {"text": title}, "automargin": True, **extra}


def _has_points(values: Any) -> bool:
    if isinstance(values, dict):  # a typed array plotly wrote as base64
        return bool(values.get("bdata"))
    if not isinstance(values, list | tuple):
        return False
    return any(
        isinstance(value, int | float) and not isinstance(value, bool) and value != 0
        for value in values
    )


def figure_has_data(figure: dict) -> bool:
    """Whether a figure (as plotly's JSON) has a value to draw: a trace with a non-zero
    number on one of its axes, its values, or its links (a Sankey diagram)."""
    for trace in figure.get("data") or []:
        if not isinstance(trace, dict):
            continue
        link = trace.get("link")
        if not isinstance(link, dict):
            link = {}
        candidates = (trace.get("x"), trace.get("y"), trace.get("values"), link.get("value"))
        if any(_has_points(values) for values in candidates):
            return True
    return False
