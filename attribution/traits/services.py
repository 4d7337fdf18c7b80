"""Computed traits, stored: every active profile's value of every active trait,
computed column-wise on PostgreSQL (attribution/traits/database.py: per property the
traits read, one COPY out of the needed columns reduced by DuckDB, then only the changed
values written), or on
SQLite a chunk of profiles at a time in Python (their events read, reduced, written,
dropped); either way memory stays bounded at any population size.
Recomputed for the changed profiles
with their facts (`refresh_facts(profile_ids)` calls `refresh_traits(profile_ids)`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from attribution.traits import database, engine
from attribution.traits.models import ComputedTrait, ProfileTraitValue
from cdp.engine.batches import id_batches
from cdp.models import Profile, Touchpoint
from cdp.services.bulk import copy_rows

CHUNK = 2_000  # profiles per read and write (SQLite, in Python)
DATABASE_CHUNK = 20_000  # changed profiles per statement (PostgreSQL, in the database)
# Fewer changed profiles than this (the incremental refresh after ingestion) are computed
# in Python from their own events, read by the (profile, timestamp) index, on PostgreSQL
# too: a statement over the whole touchpoint table costs minutes at 20M rows (1,000
# profiles: 339 s set-based against seconds this way; docs/performance.md).
PYTHON_AT_MOST = 20_000


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
    traits = [
        (t, definition(t))
        for t in ComputedTrait.objects.filter(active=True).exclude(
            kind=ComputedTrait.Kind.PREDICTED
        )
    ]
    if not traits:
        return 0
    if profile_ids is not None:
        profile_ids = set(profile_ids)
    if connection.vendor == "postgresql" and (
        profile_ids is None or len(profile_ids) > PYTHON_AT_MOST
    ):  # set-based, in the database
        done = _refresh_in_database(traits, profile_ids, now)
    else:
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


def _refresh_in_database(
    traits: list[tuple[ComputedTrait, engine.Definition]],
    profile_ids: Iterable[int] | None,
    now: datetime,
) -> int:
    if profile_ids is None:
        with transaction.atomic():
            database.refresh(traits, None, now)
        return Profile.objects.filter(merged_into__isnull=True).count()
    done = 0
    for chunk in id_batches(set(profile_ids), DATABASE_CHUNK):
        with transaction.atomic():
            database.refresh(traits, chunk, now)
        done += Profile.objects.filter(pk__in=chunk, merged_into__isnull=True).count()
    return done


def _events(chunk: list[int], definitions: list[engine.Definition], now: datetime):
    """The chunk's events that some trait reads, by profile, in time order. The
    properties are read as text and parsed with orjson (Django's JSON conversion per
    row costs more than the traits)."""
    rows = Touchpoint.objects.filter(profile_id__in=chunk, timestamp__lte=now)
    if not settings.OMNITRAIL_SEGMENT_BOTS:  # bots' and crawlers' events (cdp enrichment)
        rows = rows.filter(is_bot=False)
    names = {d.event for d in definitions}
    if "" not in names:
        rows = rows.filter(event__in=sorted(names))
    starts = [engine.since(d, now) for d in definitions]
    if all(start is not None for start in starts):
        rows = rows.filter(timestamp__gte=min(s for s in starts if s is not None))
    by_profile: dict[int, list[tuple[datetime, str, dict]]] = defaultdict(list)
    for profile_id, at, event, properties in (
        rows.order_by("profile_id", "timestamp", "pk")
        .annotate(raw=Cast("properties", TextField()))
        .values_list("profile_id", "timestamp", "event", "raw")
        .iterator(chunk_size=10_000)
    ):
        parsed = orjson.loads(properties) if properties else {}
        by_profile[profile_id].append((at, event, parsed if isinstance(parsed, dict) else {}))
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
        if connection.vendor == "postgresql":
            copy_rows(ProfileTraitValue, rows)  # one COPY, no model instances
        else:
            ProfileTraitValue.objects.bulk_create(
                [ProfileTraitValue(**row) for row in rows], batch_size=CHUNK
            )
    return len(active)


def _row(trait: ComputedTrait, profile_id: int, value: Any) -> dict[str, Any]:
    number = engine._number(value) if not isinstance(value, list) else float(len(value))
    if isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return {
        "trait_id": trait.pk,
        "profile_id": profile_id,
        "value": value,
        "number": number,
        "text": text[:255],
    }


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
