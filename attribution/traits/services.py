"""Computed traits, stored: every active profile's value of every active trait,
computed a chunk of profiles at a time (their events read, reduced, written, dropped:
memory stays bounded at any population size), and recomputed for the changed profiles
with their facts (`refresh_facts(profile_ids)` calls `refresh_traits(profile_ids)`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from attribution.traits import engine
from attribution.traits.models import ComputedTrait, ProfileTraitValue
from cdp.engine.batches import id_batches
from cdp.models import Profile, Touchpoint

CHUNK = 2_000  # profiles per read and write


def definition(trait: ComputedTrait) -> engine.Definition:
    return engine.Definition(
        kind=trait.kind,
        event=trait.event,
        where=trait.where or {},
        property=trait.property,
        window_days=trait.window_days,
    )


def _all_active_ids() -> Iterator[list[int]]:
    """Every active profile id, a chunk at a time, by id range (no list of a million)."""
    last = 0
    while True:
        chunk = list(
            Profile.objects.filter(merged_into__isnull=True, pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:CHUNK]
        )
        if not chunk:
            return
        yield chunk
        last = chunk[-1]


def refresh_traits(profile_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Recompute the active traits for `profile_ids` (every active profile when None);
    returns how many profiles were computed."""
    now = now or timezone.now()
    traits = [(t, definition(t)) for t in ComputedTrait.objects.filter(active=True)]
    if not traits:
        return 0
    if profile_ids is None:
        chunks: Iterable[list[int]] = _all_active_ids()
    else:
        chunks = id_batches(set(profile_ids), CHUNK)
    done = 0
    for chunk in chunks:
        done += _refresh_chunk(chunk, traits, now)
    if profile_ids is None:
        ComputedTrait.objects.filter(pk__in=[t.pk for t, _ in traits]).update(computed_at=now)
    return done


def _events(chunk: list[int], definitions: list[engine.Definition], now: datetime):
    """The chunk's events that some trait reads, by profile, in time order."""
    rows = Touchpoint.objects.filter(profile_id__in=chunk, timestamp__lte=now)
    names = {d.event for d in definitions}
    if "" not in names:
        rows = rows.filter(event__in=sorted(names))
    starts = [engine.since(d, now) for d in definitions]
    if all(start is not None for start in starts):
        rows = rows.filter(timestamp__gte=min(s for s in starts if s is not None))
    by_profile: dict[int, list[tuple[datetime, str, dict]]] = defaultdict(list)
    for profile_id, at, event, properties in (
        rows.order_by("profile_id", "timestamp", "pk")
        .values_list("profile_id", "timestamp", "event", "properties")
        .iterator(chunk_size=10_000)
    ):
        by_profile[profile_id].append((at, event, properties or {}))
    return by_profile


def _refresh_chunk(
    chunk: list[int], traits: list[tuple[ComputedTrait, engine.Definition]], now: datetime
) -> int:
    active = set(
        Profile.objects.filter(pk__in=chunk, merged_into__isnull=True).values_list("pk", flat=True)
    )
    events = _events(sorted(active), [d for _, d in traits], now) if active else {}
    rows = []
    for pk in sorted(active):
        for trait, rule in traits:
            value = engine.compute(rule, events.get(pk, ()), now)
            if value is not None:
                rows.append(_row(trait, pk, value))
    with transaction.atomic():
        ProfileTraitValue.objects.filter(
            profile_id__in=chunk, trait__in=[t for t, _ in traits]
        ).delete()
        ProfileTraitValue.objects.bulk_create(rows, batch_size=CHUNK)
    return len(active)


def _row(trait: ComputedTrait, profile_id: int, value: Any) -> ProfileTraitValue:
    number = engine._number(value) if not isinstance(value, list) else float(len(value))
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return ProfileTraitValue(
        trait=trait, profile_id=profile_id, value=value, number=number, text=text[:255]
    )


def traits_of_profiles(profile_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each profile's computed traits: key, name, value and the definition in words."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in id_batches(set(profile_ids)):
        for value in (
            ProfileTraitValue.objects.filter(profile_id__in=chunk, trait__active=True)
            .select_related("trait")
            .order_by("trait__name")
        ):
            found[value.profile_id].append(
                {
                    "key": value.trait.key,
                    "name": value.trait.name,
                    "value": value.value,
                    "shown": _shown(value.value),
                    "in_words": engine.in_words(definition(value.trait)),
                }
            )
    return found


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)
