"""Segments: create them, refresh their members (all at once or for changed profiles),
and keep the enter / exit history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from attribution.engine import segment_rules
from attribution.models import Segment, SegmentMembership
from attribution.selectors.segments import current_members, evaluate
from cdp.id_filters import ids_in
from cdp.services.bulk import copy_rows
from consent.policy import purpose_by_key


@dataclass
class RefreshResult:
    segment: str
    entered: int
    exited: int
    size: int
    left_out_for_consent: int
    seconds: float


def save_segment(
    *,
    name: str,
    definition: Mapping,
    purpose: str | None = None,
    description: str = "",
    refresh_minutes: int = 60,
    template: str = "",
    segment: Segment | None = None,
) -> Segment:
    """Create (or, given `segment`, change) a segment. RuleError names what is wrong in
    the definition; a membership rule must name an existing segment and not loop."""
    segment_rules.validate(definition)
    check_references(definition, segment.pk if segment else None)
    segment = segment or Segment()
    segment.name = name
    segment.definition = dict(definition)
    segment.purpose = purpose_by_key(purpose) if purpose else None
    segment.description = description
    segment.refresh_minutes = refresh_minutes
    segment.template = template
    segment.save()
    return segment


def check_references(definition: Mapping, own_id: int | None) -> None:
    """Every segment a definition names exists, and none leads back to `own_id`."""
    names = segment_rules.segments_referenced(definition)
    known = {pk: s.definition for pk, s in Segment.objects.in_bulk(list(names)).items()}
    missing = sorted(names - set(known))
    if missing:
        raise segment_rules.RuleError(f"definition.segment: no segment {missing[0]}")
    seen, frontier = set(), set(names)
    while frontier:
        if own_id is not None and own_id in frontier:
            raise segment_rules.RuleError("definition.segment: the segments would refer in a loop")
        seen |= frontier
        nxt: set[int] = set()
        for segment in Segment.objects.filter(pk__in=frontier):
            nxt |= segment_rules.segments_referenced(segment.definition)
        frontier = nxt - seen


def create_from_template(key: str, *, purpose: str | None = None) -> Segment:
    """A segment from a built-in template (see attribution.engine.segment_rules)."""
    try:
        template = segment_rules.TEMPLATES[key]
    except KeyError:
        known = ", ".join(segment_rules.TEMPLATES)
        raise LookupError(f"template: no template {key!r} (known: {known})") from None
    existing = Segment.objects.filter(name=template["name"]).first()
    return existing or save_segment(
        name=template["name"],
        definition=template["definition"],
        description=template["description"],
        purpose=purpose,
        template=key,
    )


def create_persona_segments() -> list[Segment]:
    """One segment per buyer persona of the last facts refresh."""
    from attribution.selectors.facts import personas

    made = []
    for persona in personas():
        template = segment_rules.persona_template(persona["label"], persona["description"])
        segment = Segment.objects.filter(name=template["name"]).first() or save_segment(
            **{k: template[k] for k in ("name", "definition", "description")}, template="persona"
        )
        made.append(segment)
    return made


def in_dependency_order(segments: Iterable[Segment]) -> list[Segment]:
    """Segments a membership rule reads come before the segments that read them."""
    pending = {s.pk: s for s in segments}
    ordered: list[Segment] = []
    done: set[int] = set()
    while pending:
        ready = [
            s
            for s in pending.values()
            if not (segment_rules.segments_referenced(s.definition) & (set(pending) - done))
        ]
        ready = ready or list(pending.values())  # a loop cannot be saved; never stall
        for segment in sorted(ready, key=lambda s: s.pk):
            ordered.append(segment)
            done.add(segment.pk)
            pending.pop(segment.pk)
    return ordered


def refresh_segment(
    segment: Segment, *, profile_ids: Iterable[int] | None = None, now: datetime | None = None
) -> RefreshResult:
    """Recompute the segment's members (only among `profile_ids` when given): who now
    qualifies enters, who no longer does exits; then tell its webhooks."""
    from attribution.services.destinations import sync_webhooks

    started = timezone.now()
    now = now or started
    scope = None if profile_ids is None else set(profile_ids)
    selected, left_out = evaluate(
        segment.definition, purpose=segment.purpose, profile_ids=scope, now=now
    )
    with transaction.atomic():
        rows = current_members(segment)
        current: set[int] = set()
        if scope is None:
            current = set(rows.values_list("profile_id", flat=True))
        else:
            for condition in ids_in("profile_id", scope):
                current.update(rows.filter(condition).values_list("profile_id", flat=True))
        entered, exited = selected - current, current - selected
        for condition in ids_in("profile_id", exited):
            rows.filter(condition).update(exited_at=now)
        _insert_memberships(segment, sorted(entered), now)
        # The size follows from what changed (no count over a million memberships); a
        # full refresh sets it outright, an incremental one adds in the database, so
        # two running at once both count.
        if scope is None:
            segment.size, segment.last_refreshed_at = len(selected), now
            segment.save(update_fields=["size", "last_refreshed_at"])
        else:
            Segment.objects.filter(pk=segment.pk).update(
                size=F("size") + len(entered) - len(exited)
            )
            segment.refresh_from_db(fields=["size"])
        sync_webhooks(segment, scope=scope, now=now)
    return RefreshResult(
        segment=segment.name,
        entered=len(entered),
        exited=len(exited),
        size=segment.size,
        left_out_for_consent=left_out,
        seconds=(timezone.now() - started).total_seconds(),
    )


def _insert_memberships(segment: Segment, profile_ids: list[int], now: datetime) -> None:
    if not profile_ids:
        return
    if connection.vendor == "postgresql":
        copy_rows(
            SegmentMembership,
            [
                {"segment_id": segment.pk, "profile_id": pk, "entered_at": now, "exited_at": None}
                for pk in profile_ids
            ],
        )
    else:
        SegmentMembership.objects.bulk_create(
            [
                SegmentMembership(segment=segment, profile_id=pk, entered_at=now)
                for pk in profile_ids
            ],
            batch_size=2_000,
        )


def refresh_segments(
    segments: Iterable[Segment] | None = None, *, due_only: bool = False
) -> list[RefreshResult]:
    """Refresh every active segment (or the given ones) in dependency order; with
    `due_only`, only those whose interval has passed since their last refresh."""
    chosen = list(segments) if segments is not None else list(Segment.objects.filter(active=True))
    now = timezone.now()
    if due_only:
        chosen = [
            s
            for s in chosen
            if s.last_refreshed_at is None
            or s.last_refreshed_at + timedelta(minutes=s.refresh_minutes) <= now
        ]
    return [refresh_segment(segment) for segment in in_dependency_order(chosen)]


def reevaluate_profiles(profile_ids: Iterable[int]) -> dict:
    """After a change to these profiles (a new touchpoint, a merge, a consent change):
    their facts anew, then their membership of every active segment."""
    from attribution.services.facts import refresh_facts

    ids = set(profile_ids)
    segments = list(Segment.objects.filter(active=True))
    if not ids or not segments:  # no segment to keep: facts wait for the nightly refresh
        return {"profiles": len(ids), "entered": 0, "exited": 0}
    # One transaction for the whole re-evaluation: one commit (one fsync) instead of one
    # per segment, and no reader sees half of a profile's memberships updated.
    with transaction.atomic():
        refresh_facts(ids)
        results = [
            refresh_segment(segment, profile_ids=ids) for segment in in_dependency_order(segments)
        ]
    return {
        "profiles": len(ids),
        "entered": sum(r.entered for r in results),
        "exited": sum(r.exited for r in results),
    }
