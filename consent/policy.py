"""The one question every app asks before using personal data: may purpose P use
profile X at time T? Attribution, segment exports and reports call these functions and
nothing else about consent.

A profile's consent is read across every profile merged into it (records stay on the
profile they were given for), taking the most restrictive current state per purpose;
an unmerge therefore gives each profile its own history back without moving anything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from cdp.id_filters import ids_in
from cdp.models import Profile
from consent.engine import state as engine
from consent.errors import UnknownPurpose
from consent.models import ConsentRecord, Purpose
from identity.selectors import active_profile, merged_members


def purpose_by_key(key: str) -> Purpose:
    try:
        return Purpose.objects.get(key=key)
    except Purpose.DoesNotExist:
        known = ", ".join(Purpose.objects.values_list("key", flat=True))
        raise UnknownPurpose(f"no purpose {key!r} (known: {known})") from None


def states(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> dict[int, str | None]:
    """Each profile's current state for `purpose` (granted, denied, withdrawn, or None
    when nothing in force was said), across the profiles merged into it."""
    purpose = purpose if isinstance(purpose, Purpose) else purpose_by_key(purpose)
    at = at or timezone.now()
    root_of = merged_members(set(profile_ids))
    history: dict[int, list] = defaultdict(list)
    for ids in ids_in("profile_id", root_of.keys()):
        rows = ConsentRecord.objects.filter(ids, purpose=purpose, given_at__lte=at).values_list(
            "profile_id", "status", "given_at", "expires_at"
        )
        for profile_id, status, given_at, expires_at in rows:
            history[profile_id].append((status, given_at, expires_at))
    per_root: dict[int, list[str | None]] = defaultdict(list)
    for member, root in root_of.items():
        found = engine.state_at(history.get(member, ()), at)
        per_root[root].append(found[0] if found else None)
    return {root: engine.most_restrictive(per_root[root]) for root in set(root_of.values())}


def decisions(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> dict[int, tuple[str | None, bool]]:
    """Per profile of `profile_ids` (active profiles): (its current state, whether
    `purpose` may use it at `at`, now by default)."""
    purpose = purpose if isinstance(purpose, Purpose) else purpose_by_key(purpose)
    ids = set(profile_ids)
    current = states(purpose, ids, at=at)
    countries: dict[int, str | None] = {}
    for in_ids in ids_in("pk", ids):
        countries.update(Profile.objects.filter(in_ids).values_list("pk", "traits__country"))
    return {
        pk: (
            current.get(pk),
            engine.allowed(
                current.get(pk),
                engine.default_for(purpose.default, purpose.region_defaults, countries.get(pk)),
            ),
        )
        for pk in ids
    }


def allowed_profiles(
    purpose: Purpose | str, profile_ids: Iterable[int], *, at: datetime | None = None
) -> set[int]:
    """Those of `profile_ids` (active profiles) that `purpose` may use at `at` (now)."""
    return {pk for pk, (_, allowed) in decisions(purpose, profile_ids, at=at).items() if allowed}


def may_use(purpose: Purpose | str, profile_id: int, *, at: datetime | None = None) -> bool:
    """May `purpose` use profile `profile_id` (or the profile it was merged into)?"""
    active = active_profile(profile_id)
    return active in allowed_profiles(purpose, [active], at=at)
