"""The currency a goal's money is in, for the pages that show it: the currency its
conversions were sent in, OMNITRAIL_CURRENCY where they name none."""

from __future__ import annotations

from django.conf import settings

from attribution.models import Goal
from cdp.models import Touchpoint


def goal_currency(goal: Goal | str | None) -> str:
    """The currency of the goal's newest conversion that names one (its value is summed
    in that currency; a shop selling in one currency sends the same on every order).
    Read backwards along the (event, timestamp) index: the first row with a currency
    ends the scan, so this costs a few rows however many conversions are stored."""
    if goal is None:
        return settings.OMNITRAIL_CURRENCY
    event = goal.event if isinstance(goal, Goal) else _goal_event(goal)
    if not event:
        return settings.OMNITRAIL_CURRENCY
    currency = (
        Touchpoint.objects.filter(event=event)
        .exclude(currency="")
        .order_by("-timestamp")
        .values_list("currency", flat=True)
        .first()
    )
    return (currency or settings.OMNITRAIL_CURRENCY).upper()


def _goal_event(key: str) -> str | None:
    return Goal.objects.filter(key=key).values_list("event", flat=True).first()
