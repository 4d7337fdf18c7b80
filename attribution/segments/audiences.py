"""Hashed audiences for the ad platforms (Google Ads Customer Match, Meta Custom
Audiences): a segment's consenting members written in the platform's file format
(`platforms.py` normalises and hashes), first in full, then as the added and removed
since the previous delivery. Every delivery is an `Export` row with its counts and what
each consent purpose left out; the files are downloaded from the segment page and the
admin.

Consent: a platform gets only the members that every purpose it needs allows, the
destination's own purpose and Google Consent Mode v2's `ad_user_data` (sending their
data to the platform) and `ad_personalization` (ads chosen for them), each with its
regional default (opt-in where the law asks for it).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.db.models import QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone
from django.utils.text import slugify

from attribution.segments import platforms
from attribution.segments.destinations import export_folder
from attribution.segments.models import Destination, DestinationMember, Export, Segment
from attribution.segments.selectors import current_members
from attribution.selectors.reports import held_out
from cdp.engine.batches import id_batches
from cdp.id_filters import ids_in, one_of
from cdp.models import Profile
from cdp.services.bulk import copy_columns
from consent.models import Purpose
from consent.policy import purpose_by_key, refusals
from identity.selectors import identifiers_by_profile

PLATFORM_PURPOSES = ("ad_user_data", "ad_personalization")
PLATFORM_KINDS = (Destination.Kind.GOOGLE_ADS, Destination.Kind.META_ADS)
PLATFORM_NAMES = {
    platforms.GOOGLE_ADS: "Google Ads Customer Match",
    platforms.META_ADS: "Meta Custom Audiences",
}
CHUNK = 10_000  # profiles read and written at a time: memory stays bounded
_NO_TRAITS = dict.fromkeys(platforms.TRAITS, "")  # a profile the chunk's read did not find


@dataclass
class Consenting:
    """Who of the members every purpose allows, and how many each purpose left out."""

    allowed: set[int]
    left_out: int
    by_purpose: dict[str, int] = field(default_factory=dict)


def platform_purposes(destination: Destination | None = None) -> list[Purpose]:
    """The purposes an ad platform's audience needs: Consent Mode v2's two advertising
    purposes, and the destination's own purpose when it has one."""
    purposes = [purpose_by_key(key) for key in PLATFORM_PURPOSES]
    if destination is not None and destination.purpose_id not in {p.pk for p in purposes}:
        purposes.insert(0, destination.purpose)
    return purposes


def consenting(profile_ids: Iterable[int], purposes: list[Purpose]) -> Consenting:
    """Who of `profile_ids` every purpose allows: one set-based read of their consent
    for all the purposes (consent.policy.refusals)."""
    ids = set(profile_ids)
    refused = refusals(purposes, ids) if ids else {p.key: set() for p in purposes}
    by_purpose = {p.key: len(refused[p.key]) for p in purposes}
    allowed = ids.difference(*refused.values())
    return Consenting(allowed=allowed, left_out=len(ids - allowed), by_purpose=by_purpose)


def _trait_fields(chunk: list[int]) -> dict[int, dict[str, str]]:
    """The `platforms.TRAITS` fields of these profiles (`chunk`: sorted ids), each read
    in the database as text (the first of its trait names that is set:
    `coalesce(nullif(traits->>'first_name', ''), ...)::text`), not the whole traits
    decoded in Python (a third of a delivery's time)."""
    # Cast: SQLite answers a number as a number, PostgreSQL's ->> as text.
    fields = {
        name: Cast(
            Coalesce(
                *(NullIf(KeyTextTransform(trait, "traits"), Value("")) for trait in traits),
                Value(""),
                output_field=TextField(),
            ),
            TextField(),
        )
        for name, traits in platforms.TRAITS.items()
    }
    names = list(fields)
    # The chunk's id range besides its ids: PostgreSQL reads the pages of that range
    # through the primary key, where `id = ANY(ids)` alone has it scan the whole table
    # for every chunk (17 of 40 s of a 692,821-member delivery).
    rows = (
        Profile.objects.filter(one_of("pk", chunk), pk__range=(chunk[0], chunk[-1]))
        .annotate(**{f"t_{name}": expression for name, expression in fields.items()})
        .values_list("pk", *(f"t_{name}" for name in names))
    )
    return {pk: dict(zip(names, values, strict=True)) for pk, *values in rows}


def audience_rows(platform: str, profile_ids: Iterable[int]) -> Iterator[tuple[int, list[str]]]:
    """(profile id, the platform's row in its columns' order) for each profile with
    something to match on, in chunks of `CHUNK` profiles, in profile id order."""
    make = platforms.ROWS[platform]
    columns = platforms.COLUMNS[platform]
    for chunk in id_batches(profile_ids, CHUNK):
        traits = _trait_fields(chunk)
        ids: dict[int, dict[str, str]] = defaultdict(dict)
        for kind, value, pk in identifiers_by_profile(chunk):
            ids[pk].setdefault(kind, value)
        for pk in chunk:
            fields = traits.get(pk) or _NO_TRAITS
            row = make(platforms.Person.of_fields(ids.get(pk, {}), fields))
            if platforms.matchable(platform, row):
                yield pk, [row[c] for c in columns]


def write_audience(path: Path, platform: str, profile_ids: Iterable[int]) -> list[int]:
    """Write the platform's CSV (header, then a row per matchable profile); returns the
    profiles written."""
    written = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(platforms.COLUMNS[platform])
        for pk, row in audience_rows(platform, profile_ids):
            writer.writerow(row)
            written.append(pk)
    return written


class _Line:
    def write(self, text: str) -> str:
        return text


def audience_lines(segment: Segment, platform: str) -> Iterator[str]:
    """The segment's full audience for `platform` as CSV lines (a download from the
    segment page: the members Consent Mode v2's purposes allow, nothing recorded)."""
    members = list(current_members(segment).values_list("profile_id", flat=True))
    allowed = consenting(members, platform_purposes()).allowed
    writer = csv.writer(_Line())
    columns = platforms.COLUMNS[platform]
    yield writer.writerow(columns)
    for _, row in audience_rows(platform, allowed):
        yield writer.writerow(row)


def deliver_audience(
    destination: Destination, segment: Segment, *, full: bool = False, now: datetime | None = None
) -> Export:
    """Write the segment's audience for the destination's platform: in full the first
    time (or when asked), afterwards the added and removed since the previous delivery
    (against what the platform was last given). Records the delivery as an Export."""
    if destination.kind not in PLATFORM_KINDS:
        raise ValueError(
            f"destination: {destination.name} is a {destination.kind}, not an ad platform"
        )
    now = now or timezone.now()
    members = list(current_members(segment).values_list("profile_id", flat=True))
    consent = consenting(members, platform_purposes(destination))
    sendable = consent.allowed
    if destination.channel and sendable:
        sendable -= held_out(sendable, channel=destination.channel)
    told = DestinationMember.objects.filter(destination=destination, segment=segment)
    first = not Export.objects.filter(destination=destination, segment=segment).exists()
    folder = export_folder(destination.path)  # inside OMNITRAIL_EXPORT_DIR, or refused
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{slugify(segment.name)}-{destination.kind}-{now:%Y%m%dT%H%M%S%f}"
    with transaction.atomic():
        known = set(told.values_list("profile_id", flat=True))
        if full or first:
            path = folder / f"{stem}-full.csv"
            wanted = sendable
            written = write_audience(path, destination.kind, wanted)
            # What the platform is told now is what this file holds: only the difference
            # with what it was told before is written (a repeated full delivery of the
            # same members writes nothing).
            given = set(written)
            _forget(told, known - given)
            _tell(destination, segment, sorted(given - known))
            removed_path, removed = "", []
            mode = Export.Mode.FULL
        else:
            path = folder / f"{stem}-added.csv"
            wanted = sendable - known
            written = write_audience(path, destination.kind, wanted)
            gone = known - sendable
            removed_path = str(folder / f"{stem}-removed.csv")
            removed = write_audience(Path(removed_path), destination.kind, gone)
            _forget(told, gone)
            _tell(destination, segment, written)
            mode = Export.Mode.DELTA
        return Export.objects.create(
            destination=destination,
            segment=segment,
            path=str(path),
            rows=len(written),
            mode=mode,
            removed_path=removed_path,
            removed=len(removed),
            left_out_for_consent=consent.left_out,
            left_out_by_purpose=consent.by_purpose,
            unmatchable=len(wanted) - len(written),
        )


def _forget(told: QuerySet[DestinationMember], profile_ids: Iterable[int]) -> None:
    """Forget that the platform was given these profiles."""
    for condition in ids_in("profile_id", set(profile_ids)):
        told.filter(condition).delete()


def _tell(destination: Destination, segment: Segment, profile_ids: list[int]) -> None:
    """Record who the platform was given (profiles it was not told of). On PostgreSQL
    with one COPY of plain rows (no model instances: 500,000 of them cost more than the
    file)."""
    if connection.vendor == "postgresql":
        copy_columns(
            DestinationMember,
            ("destination", "segment", "profile"),
            ((destination.pk, segment.pk, pk) for pk in profile_ids),
        )
        return
    DestinationMember.objects.bulk_create(
        [
            DestinationMember(destination=destination, segment=segment, profile_id=pk)
            for pk in profile_ids
        ],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )


def send_now(destination: Destination, segment: Segment, *, full: bool = False) -> str:
    """Send the segment to one destination now, whatever its kind; says what was sent
    (the segment page's and the admin's "send now")."""
    from attribution.segments.destinations import export_segment, sync_webhooks

    if destination.kind in PLATFORM_KINDS:
        export = deliver_audience(destination, segment, full=full)
        if export.mode == Export.Mode.DELTA:
            sent = f"{export.rows:,} added and {export.removed:,} removed since the last delivery"
        else:
            sent = f"the full audience, {export.rows:,} profiles"
        return (
            f"{sent} ({export.left_out_for_consent:,} left out for consent, "
            f"{export.unmatchable:,} with nothing to match on)"
        )
    if destination.kind == Destination.Kind.FILE:
        export = export_segment(destination, segment)
        return (
            f"{export.rows:,} profiles written "
            f"({export.left_out_for_consent:,} left out for consent)"
        )
    events = sum(d.events.count() for d in sync_webhooks(segment, only=destination))
    return f"{events:,} entered / exited events queued"
