"""The writes of segments: create them, refresh their members (all at once or for
changed profiles) and keep the enter / exit history; and the profile facts their rules
read (channels, value, RFM, CLV, persona, best time to contact), computed from the
touchpoints for every profile at once, or anew for the profiles that changed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from attribution.engine.models import DEFAULT_GOAL
from attribution.models import Goal
from attribution.segments import facts as facts_engine
from attribution.segments import rules as segment_rules
from attribution.segments.destinations import sync_webhooks
from attribution.segments.models import (
    FactsModel,
    ProfileChannel,
    ProfileFacts,
    Segment,
    SegmentMembership,
)
from attribution.segments.selectors import current_members, evaluate, personas
from attribution.selectors.journeys import touch_frame, touch_frames_by_range
from attribution.traits.services import refresh_traits
from cdp.engine.batches import id_batches
from cdp.id_filters import ids_in
from cdp.models import Profile, Touchpoint
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
        raise segment_rules.RuleError("definition.segment", f"no segment {missing[0]}")
    seen, frontier = set(), set(names)
    while frontier:
        if own_id is not None and own_id in frontier:
            raise segment_rules.RuleError(
                "definition.segment", "the segments would refer in a loop"
            )
        seen |= frontier
        nxt: set[int] = set()
        for segment in Segment.objects.filter(pk__in=frontier):
            nxt |= segment_rules.segments_referenced(segment.definition)
        frontier = nxt - seen


def create_from_template(key: str, *, purpose: str | None = None) -> Segment:
    """A segment from a built-in template (see attribution/segments/rules.py)."""
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
    _insert(
        SegmentMembership,
        [
            {"segment_id": segment.pk, "profile_id": pk, "entered_at": now, "exited_at": None}
            for pk in profile_ids
        ],
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
    ids = set(profile_ids)
    segments = list(Segment.objects.filter(active=True))
    if not ids or not segments:  # no segment to keep: facts wait for the nightly refresh
        # (the computed traits do not: the 360° page and the API show them)
        refresh_traits(ids)
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


# --- Profile facts ----------------------------------------------------------------------

# Visits to a store count as touches of the In-store channel.
IN_STORE_EVENTS = ("Store Visit", "In-Store Visit", "Store Checked In")
FACT_COLUMNS = (
    "first_touch_channel",
    "last_touch_channel",
    "last_touch_campaign",
    "channel_count",
    "total_revenue",
    "order_count",
    "first_order_at",
    "last_order_at",
    "clv",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_score",
    "persona",
    "best_hour_of_week",
    "best_contact_channel",
)


def conversion_event() -> str:
    """Facts count orders as the default goal (purchase) does."""
    goal = Goal.objects.filter(key=DEFAULT_GOAL).first()
    return goal.event if goal else "Order Completed"


# Profiles whose touch rows are read, summarised and written at a time (about 20
# touch rows each: half a million rows, a few hundred MB, whatever the population).
FACTS_CHUNK = 20_000  # = journeys.PROFILES_PICKED_BY_DATABASE: picked by the index


def refresh_facts(profile_ids: Iterable[int] | None = None, *, now: datetime | None = None) -> int:
    """Recompute the facts of `profile_ids` (all profiles when None: that also learns
    the RFM edges and the personas anew), a chunk of profiles at a time so that memory
    stays bounded. Bots' and crawlers' touches are left out unless
    OMNITRAIL_SEGMENT_BOTS. Returns how many profiles have facts."""
    now = now or timezone.now()
    if profile_ids is None:
        count = _refresh_all_facts(now)
        refresh_traits(None, now=now)  # the computed traits staff defined, bounded too
        return count
    ids = sorted(set(profile_ids))
    event = conversion_event()
    model = _latest_model()
    count = 0
    with transaction.atomic():
        for chunk in id_batches(ids, FACTS_CHUNK):
            frame = touch_frame(
                profile_ids=chunk,
                events=[event, *IN_STORE_EVENTS],
                bots=settings.OMNITRAIL_SEGMENT_BOTS,
            )
            facts, channels, model = facts_engine.compute(
                frame, conversion_event=event, now=pd.Timestamp(now), model=model
            )
            del frame
            ProfileFacts.objects.filter(profile_id__in=chunk).delete()
            ProfileChannel.objects.filter(profile_id__in=chunk).delete()
            _write_facts(facts, channels, now)
            count += len(facts)
    refresh_traits(ids, now=now)
    return count


def _profile_ranges(size: int) -> Iterator[tuple[int, int]]:
    """(after, last] id ranges of `size` profiles each, over every profile."""
    last = 0
    while True:
        ids = list(
            Profile.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not ids:
            return
        yield last, ids[-1]
        last = ids[-1]


def _refresh_all_facts(now: datetime) -> int:
    """Every profile's facts in two passes over chunks of profiles: the first reads
    each chunk's touch rows (on PostgreSQL the table read once and dealt into a file per
    chunk), summarises them (stashed on disk) and gathers what the population's RFM
    edges and personas are learnt from; the second scores each stashed chunk with the
    learnt model and writes it. Peak memory: one chunk's rows plus the
    learning sample (facts_engine.LEARN_FROM profiles at most)."""
    event = conversion_event()
    stamp = pd.Timestamp(now)
    learning = facts_engine.Learning(expected=Profile.objects.count())
    stashed = []
    with tempfile.TemporaryDirectory(prefix="omnitrail-facts-") as folder:
        frames = touch_frames_by_range(
            list(_profile_ranges(FACTS_CHUNK)),
            events=[event, *IN_STORE_EVENTS],
            bots=settings.OMNITRAIL_SEGMENT_BOTS,
            folder=folder,
        )
        for n, (_, frame) in enumerate(frames):
            facts, channels = facts_engine.summarise(frame, conversion_event=event, now=stamp)
            del frame
            learning.add(facts, channels, stamp)
            path = Path(folder) / f"{n}.pickle"
            pd.to_pickle((facts, channels), path)  # type: ignore[attr-defined]
            stashed.append(path)
        model = learning.learn(stamp)
        del learning
        count = 0
        with transaction.atomic():
            ProfileFacts.objects.all().delete()
            ProfileChannel.objects.all().delete()
            FactsModel.objects.create(
                rfm_edges=model.rfm_edges,
                personas=model.personas,
                features=model.features | {"bot_touches_left_out": _bot_touches_left_out()},
            )
            for path in stashed:
                facts, channels = pd.read_pickle(path)
                _write_facts(facts_engine.score(facts, channels, stamp, model), channels, now)
                count += len(facts)
    return count


def _bot_touches_left_out() -> int:
    """Touchpoints of profiles flagged as bots' or crawlers' (cdp enrichment) that the
    facts, computed traits and segment event rules leave out (0 when they count)."""
    if settings.OMNITRAIL_SEGMENT_BOTS:
        return 0
    return Touchpoint.objects.filter(is_bot=True, profile__isnull=False).count()


def _write_facts(facts: pd.DataFrame, channels: pd.DataFrame, now: datetime) -> None:
    _insert(ProfileFacts, _fact_rows(facts, now))
    _insert(
        ProfileChannel,
        [
            {"profile_id": int(p), "channel": c, "touches": int(n)}
            for p, c, n in channels[["profile_id", "channel", "touches"]].itertuples(index=False)
        ],
    )


def _latest_model() -> facts_engine.FactsModel | None:
    stored = FactsModel.objects.order_by("-computed_at", "-pk").first()
    if stored is None:
        return None
    return facts_engine.FactsModel(
        rfm_edges=stored.rfm_edges, personas=stored.personas, features=stored.features
    )


def _fact_rows(facts: pd.DataFrame, now: datetime) -> list[dict]:
    table = facts.reindex(columns=list(FACT_COLUMNS))
    rows = []
    columns = {name: table[name].to_numpy() for name in FACT_COLUMNS}
    for i, profile_id in enumerate(table.index.to_numpy()):
        row = {"profile_id": int(profile_id), "updated_at": now}
        for name, values in columns.items():
            row[name] = _plain(values[i])
        rows.append(row)
    return rows


def _plain(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value, tz="UTC").to_pydatetime()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _insert(model, rows: list[dict]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        copy_rows(model, rows)
    else:
        model.objects.bulk_create([model(**row) for row in rows], batch_size=2_000)
