"""Reading consent: a profile's history and current state, profiles by identifier."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from cdp.models import Profile
from consent import policy
from consent.errors import InvalidIdentifier, UnknownIdentifier
from consent.models import ConsentRecord, Purpose
from identity.selectors import (
    active_profile,
    active_profiles,
    merged_members,
    profile_ids_for_identifier,
)


def profile_by_identifier(identifier: str) -> Profile:
    """The active profile `kind:value` belongs to; InvalidIdentifier when it is not
    written so, UnknownIdentifier when no profile holds it."""
    kind, _, value = identifier.strip().partition(":")
    if not kind or not value:
        raise InvalidIdentifier(
            f"use kind:value, e.g. email:ann@example.com (got {identifier!r})", field="identifier"
        )
    found = profile_ids_for_identifier(kind, value).values_list("profile_id", flat=True).first()
    if found is None:
        raise UnknownIdentifier(f"no profile has {kind} {value!r}", field="identifier")
    return Profile.objects.get(pk=active_profile(found))


def consent_history(profile_id: int) -> QuerySet[ConsentRecord]:
    """Every consent record of the profile and of the profiles merged into it, newest
    first."""
    members = list(merged_members({profile_id}))
    return (
        ConsentRecord.objects.filter(profile_id__in=members)
        .select_related("purpose", "source", "recorded_by")
        .order_by("-given_at", "-id")
    )


def current_consent(profile_id: int, *, at: datetime | None = None) -> list[dict]:
    """Per purpose: the current state (or None), whether the purpose may use the profile,
    and why (a record, or the purpose's default)."""
    at = at or timezone.now()
    result = []
    for purpose in Purpose.objects.all():
        state, allowed = policy.decisions(purpose, [profile_id], at=at)[profile_id]
        result.append(
            {
                "purpose": purpose.key,
                "state": state,
                "allowed": allowed,
                "by": "record" if state else f"default ({purpose.default})",
            }
        )
    return result


def profiles_with_consent_recorded_since(since) -> set[int]:
    """The live profiles whose consent changed since `since` (a record given to a profile
    merged away counts for the profile it lives in)."""
    given = set(
        ConsentRecord.objects.filter(recorded_at__gte=since).values_list("profile_id", flat=True)
    )
    return set(active_profiles(given).values())
