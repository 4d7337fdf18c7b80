"""The currency a goal's money is in, for the pages that show it: the currency its
conversions were sent in, OMNITRAIL_CURRENCY where they name none."""

from __future__ import annotations

from django.conf import settings

from attribution.models import Goal
from cdp.models import Touchpoint

# How many of a goal's newest conversions are read for their currency.
NEWEST_CONVERSIONS = 1_000


def goal_currency(goal: Goal | str | None) -> str:
    """The currency of the goal's newest conversion that names one (its value is summed
    in that currency; a shop selling in one currency sends the same on every order),
    among its NEWEST_CONVERSIONS newest; OMNITRAIL_CURRENCY when none of them names one.
    Read backwards along the (event, timestamp) index, so it costs at most that many rows
    however many conversions are stored (filtering on the currency instead read every
    conversion when none named one: 8 s a page at 500,000 orders)."""
    if goal is None:
        return settings.OMNITRAIL_CURRENCY
    event = goal.event if isinstance(goal, Goal) else _goal_event(goal)
    if not event:
        return settings.OMNITRAIL_CURRENCY
    newest = Touchpoint.objects.filter(event=event).order_by("-timestamp")
    currencies = newest.values_list("currency", flat=True)[:NEWEST_CONVERSIONS]
    currency = next((code for code in currencies if code), "")
    return (currency or settings.OMNITRAIL_CURRENCY).upper()


def _goal_event(key: str) -> str | None:
    return Goal.objects.filter(key=key).values_list("event", flat=True).first()
