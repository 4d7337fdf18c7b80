"""Customer search for the 360° page: any identifier, normalised as identity stores it,
or a profile id, leading to the live profile; and what the audit log keeps of it.

In the shell because it joins identity (identifiers, merges) and consent (the keyed
hash of the suppression list, which the audit log keeps instead of the value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from attribution.models import Goal
from attribution.selectors.currency import goal_currency
from cdp.errors import InvalidField
from cdp.models import Profile, Touchpoint
from consent.suppression import search_fingerprint
from identity.selectors import (
    active_profiles,
    identifiers_with_keys,
    search_keys,
    searched_kinds,
)


@dataclass
class ProfileMatch:
    """A customer a search found: the live profile, and how it was found."""

    profile: Profile
    kind: str  # the identifier kind that matched, or "profile id"
    value: str  # the stored (normalised) value that matched
    via: int | None = None  # the merged-away profile the identifier was found on


@dataclass
class ProfileSearch:
    matches: list[ProfileMatch]
    # What the audit log keeps of the search: the kind and a keyed hash of the value.
    fingerprint: str


_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PROFILE_ID = re.compile(r"^(?:#|profile:|profile )?(\d{1,18})$", re.IGNORECASE)
SEARCH_RESULTS = 50


def find_profiles(query: str, *, limit: int = SEARCH_RESULTS) -> ProfileSearch:
    """The live profiles a search names: `kind:value` (email:ann@example.com), a bare
    value tried as every identifier kind it can be, normalised the way identity stores
    it, or a profile id (`#12`, `profile:12`, or digits, which may also be an id of
    another kind). A profile merged away leads to the one it lives in now.

    Indexed lookups only: one probe of the (kind, value) index per kind, the primary
    key for profile ids. ValueError names what is wrong with the query."""
    text = query.strip()
    if not text:
        raise InvalidField("type an identifier or a profile id", field="q")
    if len(text) > 255:
        raise InvalidField("at most 255 characters", field="q")
    profile_ids: list[int] = []
    keys: list[tuple[str, str]] = []
    by_id = _PROFILE_ID.match(text)
    if by_id:
        profile_ids.append(int(by_id[1]))
    kind, colon, value = text.partition(":")
    kind = kind.strip().lower()
    if colon and value.strip() and _KIND.match(kind) and kind != "profile":
        keys += search_keys(value.strip(), kind=kind)
        fingerprint = search_fingerprint(kind, keys[0][1] if keys else value.strip())
        if kind not in searched_kinds():  # maybe no kind at all: "urn:..." as typed
            keys += search_keys(text)
    elif by_id and not text.isdigit():
        fingerprint = f"profile id:{by_id[1]}"
    else:
        keys += search_keys(text)
        email = next((v for k, v in keys if k == "email"), None)
        fingerprint = (
            search_fingerprint("email", email) if email else search_fingerprint("any", text.lower())
        )
    if not keys and not profile_ids:
        raise InvalidField(f"{text!r} is no identifier of any kind (nor a profile id)", field="q")

    found: list[tuple[int, str, str]] = [(pk, "profile id", str(pk)) for pk in profile_ids]
    found += [(i.profile_id, i.kind, i.value) for i in identifiers_with_keys(keys, limit=limit)]
    existing = set(
        Profile.objects.filter(pk__in=[pk for pk, _, _ in found]).values_list("pk", flat=True)
    )
    found = [row for row in found if row[0] in existing]
    live = active_profiles({pk for pk, _, _ in found})
    profiles = Profile.objects.in_bulk(set(live.values()))
    matches: list[ProfileMatch] = []
    seen: set[int] = set()
    for pk, kind_found, value_found in found:
        now = live[pk]
        if now in seen:
            continue
        seen.add(now)
        matches.append(
            ProfileMatch(profiles[now], kind_found, value_found, via=pk if pk != now else None)
        )
    return ProfileSearch(matches[:limit], fingerprint)


# --- a customer's purchases and conversions (the top of the 360° page) --------------------

# The newest conversions the page lists above everything else.
CONVERSIONS_SHOWN = 50


@dataclass
class CustomerConversion:
    """One touchpoint that is a conversion of some goal: an order, a sign-up ..."""

    touchpoint: Touchpoint
    goals: list[str]  # the names of the goals it converts
    value: float | None  # the goal's value property, else the touchpoint's revenue
    currency: str  # the currency it was sent in, else the goal's, else the setting


def conversions_of_profile(
    profile_id: int, *, limit: int = CONVERSIONS_SHOWN
) -> tuple[list[CustomerConversion], bool]:
    """The customer's newest touchpoints that convert a goal (purchases first among
    them: every goal's event), newest first, and whether there are more than `limit`.
    One query on the (profile, timestamp) index, which holds the event."""
    goals_by_event: dict[str, list[Goal]] = {}
    for goal in Goal.objects.order_by("key"):
        goals_by_event.setdefault(goal.event, []).append(goal)
    if not goals_by_event:
        return [], False
    found = list(
        Touchpoint.objects.filter(profile_id=profile_id, event__in=list(goals_by_event))
        .select_related("source")
        .order_by("-timestamp", "-pk")[: limit + 1]
    )
    currencies: dict[str, str] = {}
    conversions = []
    for touchpoint in found[:limit]:
        goals = goals_by_event[touchpoint.event]
        if touchpoint.event not in currencies:
            currencies[touchpoint.event] = goal_currency(goals[0])
        conversions.append(
            CustomerConversion(
                touchpoint=touchpoint,
                goals=[goal.name for goal in goals],
                value=_conversion_value(touchpoint, goals[0].value_property),
                currency=(touchpoint.currency or currencies[touchpoint.event]).upper(),
            )
        )
    return conversions, len(found) > limit


def _conversion_value(touchpoint: Touchpoint, value_property: str) -> float | None:
    value = (touchpoint.properties or {}).get(value_property)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return None if touchpoint.revenue is None else float(touchpoint.revenue)
