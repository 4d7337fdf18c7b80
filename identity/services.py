"""Identity resolution: place each touchpoint on the profile of the person behind it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cdp.models import Profile, Touchpoint
from identity.engine.extract import Key, identifiers_of_event
from identity.engine.normalize import normalize_identifier
from identity.engine.stitch import connected_groups
from identity.models import Identifier

TOUCHPOINT_FIELDS = (
    "id",
    "type",
    "anonymous_id",
    "user_id",
    "previous_id",
    "traits",
    "context",
    "timestamp",
)


def _existing_identifiers(keys: set[Key]) -> dict[Key, Identifier]:
    if not keys:
        return {}
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    query = Q()
    for kind, values in by_kind.items():
        query |= Q(kind=kind, value__in=values)
    return {
        (identifier.kind, identifier.value): identifier
        for identifier in Identifier.objects.filter(query)
    }


def _alias_previous(previous_id: str, existing: dict[Key, Identifier]) -> Key | None:
    # previousId is the old id: a known userId if we have one, else the anonymous id.
    value = normalize_identifier("user_id", previous_id)
    if value is None:
        return None
    if ("user_id", value) in existing or Identifier.objects.filter(
        kind="user_id", value=value
    ).exists():
        return ("user_id", value)
    return ("anonymous_id", value)


def _merge_traits(profile: Profile, events: list[dict]) -> None:
    # The most recent value of each trait wins (golden-record rules refine this).
    for event in sorted(events, key=lambda event: event["timestamp"]):
        for traits in (event["traits"], (event["context"] or {}).get("traits")):
            if isinstance(traits, dict):
                profile.traits.update({k: v for k, v in traits.items() if v not in (None, "")})


@transaction.atomic
def resolve_touchpoints(touchpoint_ids: list[int]) -> int:
    """Attach these touchpoints, and the identifiers they carry, to profiles.

    Identifiers seen together on one event belong to one person; groups that reach
    identifiers of several profiles join them into the oldest. Returns how many
    touchpoints were placed. Idempotent: a resolved touchpoint changes nothing.
    """
    events = list(
        Touchpoint.objects.select_for_update()
        .filter(id__in=touchpoint_ids, resolved_at__isnull=True)
        .values(*TOUCHPOINT_FIELDS)
    )
    if not events:
        return 0
    traits_kinds = settings.OMNITRAIL_IDENTIFIER_TRAITS
    region = settings.OMNITRAIL_DEFAULT_PHONE_REGION
    keys_of: dict[int, list[Key]] = {
        event["id"]: identifiers_of_event(
            event, identifier_traits=traits_kinds, default_region=region
        )
        for event in events
    }
    existing = _existing_identifiers({key for keys in keys_of.values() for key in keys})
    for event in events:
        if event["type"] == "alias" and event["previous_id"]:
            previous = _alias_previous(event["previous_id"], existing)
            if previous and previous not in keys_of[event["id"]]:
                keys_of[event["id"]].append(previous)
    existing.update(
        _existing_identifiers({key for keys in keys_of.values() for key in keys} - set(existing))
    )

    now = timezone.now()
    group_of: dict[Key, int] = {}
    groups = connected_groups(keys_of.values())
    for number, group in enumerate(groups):
        for key in group:
            group_of[key] = number
    events_of_group: dict[int, list[dict]] = defaultdict(list)
    for event in events:
        keys = keys_of[event["id"]]
        if keys:
            events_of_group[group_of[keys[0]]].append(event)

    profile_of_group: dict[int, Profile] = {}
    for number, group in enumerate(groups):
        profile_ids = sorted({existing[key].profile_id for key in group if key in existing})
        if profile_ids:
            profile = Profile.objects.get(pk=profile_ids[0])
            if len(profile_ids) > 1:
                _join_profiles(profile, profile_ids[1:])
        else:
            profile = Profile.objects.create()
        profile_of_group[number] = profile
        seen_at = _seen_range(events_of_group[number])
        _attach_identifiers(profile, group, existing, seen_at)
        _merge_traits(profile, events_of_group[number])
        profile.save(update_fields=["traits", "updated_at"])

    placed = []
    for event in events:
        keys = keys_of[event["id"]]
        profile = profile_of_group[group_of[keys[0]]] if keys else None
        placed.append(Touchpoint(id=event["id"], profile=profile, resolved_at=now))
    Touchpoint.objects.bulk_update(placed, ["profile", "resolved_at"], batch_size=1000)
    return len(placed)


def _seen_range(events: list[dict]) -> tuple[datetime, datetime]:
    times = [event["timestamp"] for event in events] or [timezone.now()]
    return min(times), max(times)


def _attach_identifiers(
    profile: Profile,
    group: list[Key],
    existing: dict[Key, Identifier],
    seen_at: tuple[datetime, datetime],
) -> None:
    first, last = seen_at
    new = [
        Identifier(kind=kind, value=value, profile=profile, first_seen=first, last_seen=last)
        for kind, value in group
        if (kind, value) not in existing
    ]
    Identifier.objects.bulk_create(new)
    for identifier in new:
        existing[(identifier.kind, identifier.value)] = identifier
    Identifier.objects.filter(
        pk__in=[existing[key].pk for key in group if key in existing], last_seen__lt=last
    ).update(last_seen=last)


def _join_profiles(survivor: Profile, others: list[int]) -> None:
    Identifier.objects.filter(profile_id__in=others).update(profile=survivor)
    Touchpoint.objects.filter(profile_id__in=others).update(profile=survivor)
    for other in Profile.objects.filter(pk__in=others):
        survivor.traits = {**other.traits, **survivor.traits}
    Profile.objects.filter(pk__in=others).update(merged_into=survivor)


def resolve_pending(*, chunk: int | None = None) -> int:
    """Resolve every touchpoint not yet placed, oldest first, in chunks."""
    chunk = chunk or settings.OMNITRAIL_RESOLVE_CHUNK
    total = 0
    while True:
        ids = list(
            Touchpoint.objects.filter(resolved_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:chunk]
        )
        if not ids:
            return total
        total += resolve_touchpoints(ids)
