"""The current consent state from a history of records. Pure: no Django.

A profile's state for a purpose is its latest record in force at a time (given by then,
not yet expired). A customer who had several profiles, now merged, has the most
restrictive of their states: one "no" anywhere is a no.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

GRANTED, DENIED, WITHDRAWN = "granted", "denied", "withdrawn"
# Most restrictive first.
RESTRICTIVENESS = (WITHDRAWN, DENIED, GRANTED)
# EU and EEA country codes, for purposes whose default differs there.
EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE "
    "IS LI NO".split()
)


def state_at(
    records: Iterable[tuple[str, datetime, datetime | None]], at: datetime
) -> tuple[str, datetime] | None:
    """(status, given_at) of the latest record in force at `at`, from (status, given_at,
    expires_at) records of one profile and purpose; None when none is."""
    latest: tuple[str, datetime] | None = None
    for status, given_at, expires_at in records:
        if given_at > at or (expires_at is not None and expires_at <= at):
            continue
        if latest is None or given_at >= latest[1]:
            latest = (status, given_at)
    return latest


def most_restrictive(states: Iterable[str | None]) -> str | None:
    present = {state for state in states if state is not None}
    return next((state for state in RESTRICTIVENESS if state in present), None)


def default_for(default: str, region_defaults: dict[str, str], country: object) -> str:
    """The purpose's default (opt_in or opt_out) where the customer lives."""
    if isinstance(country, str) and country:
        country = country.strip().upper()
        if country in region_defaults:
            return region_defaults[country]
        if country in EEA and "EU" in region_defaults:
            return region_defaults["EU"]
    return default


def allowed(state: str | None, default: str) -> bool:
    """May the purpose use the data: yes when granted, no when denied or withdrawn, and
    when nothing was said, only for an opt-out purpose."""
    if state is None:
        return default == "opt_out"
    return state == GRANTED
