"""Probabilistic matching runs: profiles no shared key ties, linked by Splink.

Splink compares source records, not golden records: one record per distinct set of
match traits a source sent for a profile (a CRM row, a web sign-up, an app login with
a birthday). That is the data Splink is made for, it keeps the duplicates that
training learns from (stitching has already merged the profiles that share a key), and
the model is applied to the same kind of rows it was trained on. A pair of records of
two different profiles scoring above the merge threshold merges the profiles.

A full run trains the model if there is none (or when asked), scores every pair the
blocking rules allow, merges the sure pairs and queues those between the review and
merge thresholds for staff. An incremental run scores only the records of touchpoints
resolved since the last run against all others, with the saved model.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.csv as pa_csv
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from cdp.models import Touchpoint
from identity.engine import matching as engine
from identity.engine.stitch import UnionFind, merge_refusal
from identity.models import (
    Identifier,
    MatchModel,
    MatchReview,
    MatchRun,
    MergeBlock,
    MergeDecision,
    Refusal,
)
from identity.selectors import active_profiles
from identity.services.merging import merge_profiles, rebuild_golden_records

logger = logging.getLogger(__name__)
COLUMNS = ("unique_id", "profile_id", *engine.MATCH_COLUMNS)


@dataclass
class Records:
    """Match records (the engine's columns) and the profile each belongs to now."""

    table: pa.Table
    profile_of: dict[int, int]

    @property
    def count(self) -> int:
        return self.table.num_rows


def _records_query(touchpoints: QuerySet[Touchpoint]) -> QuerySet:
    """One row per source, profile and distinct match traits; its id is the first
    touchpoint that said them."""
    fields = {f"t_{name}": KeyTextTransform(name, "traits") for name in engine.MATCH_COLUMNS}
    return (
        touchpoints.filter(profile__isnull=False)
        .filter(Q(traits__has_key="first_name") | Q(traits__has_key="last_name"))
        .annotate(**fields)
        .values("source_id", "profile_id", *fields)
        .annotate(unique_id=Min("id"))
        .order_by()
        .values_list("unique_id", "profile_id", *fields)
    )


def match_records(touchpoints: QuerySet[Touchpoint] | None = None) -> Records:
    """The match records of `touchpoints` (default: all), streamed out of PostgreSQL
    with COPY (other databases: a chunked cursor)."""
    query = _records_query(touchpoints if touchpoints is not None else Touchpoint.objects.all())
    schema = pa.schema(
        [("unique_id", pa.int64()), ("profile_id", pa.int64())]
        + [(name, pa.string()) for name in engine.MATCH_COLUMNS]
    )
    if connection.vendor == "postgresql":
        sql, params = query.query.sql_with_params()
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY ({sql}) TO STDOUT (FORMAT CSV)", params) as copy:
                for block in copy:
                    buffer.write(block)
        if buffer.tell():
            buffer.seek(0)
            table = pa_csv.read_csv(
                buffer,
                read_options=pa_csv.ReadOptions(column_names=list(COLUMNS)),
                convert_options=pa_csv.ConvertOptions(
                    column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False
                ),
            )
        else:
            table = schema.empty_table()
    else:
        rows = list(query.iterator(chunk_size=10_000))
        table = pa.table(
            {name: [row[index] for row in rows] for index, name in enumerate(COLUMNS)},
            schema=schema,
        )
    owners = table["profile_id"].to_pylist()
    current = active_profiles(set(owners))
    profile_of = {
        uid: current[owner]
        for uid, owner in zip(table["unique_id"].to_pylist(), owners, strict=True)
    }
    return Records(table.drop_columns(["profile_id"]), profile_of)


def _engine_options() -> dict:
    return {
        "backend": settings.OMNITRAIL_MATCH_BACKEND,
        "memory_limit": settings.OMNITRAIL_MATCH_MEMORY_LIMIT,
    }


def current_model(*, records: Records | None = None, retrain: bool = False) -> MatchModel:
    """The active trained model; trained on the platform's own records when missing.

    Raises `engine.TooFewDuplicates` when the records hold nothing to learn from.
    """
    model = MatchModel.objects.filter(active=True).first()
    if model and not retrain:
        return model
    records = records if records is not None else match_records()
    trained = engine.train_model(
        records.table, seed=settings.OMNITRAIL_MATCH_SEED, **_engine_options()
    )
    training = trained.pop("omnitrail_training", {})
    version = (MatchModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    with transaction.atomic():
        MatchModel.objects.update(active=False)
        return MatchModel.objects.create(
            version=version, model=trained, records=records.count, active=True, training=training
        )


def full_run(*, retrain: bool = False) -> MatchRun:
    """Train if needed, score all pairs, merge the sure ones, queue the borderline ones."""
    run = MatchRun(mode=MatchRun.Mode.FULL, started_at=timezone.now())
    records = match_records()
    run.records = records.count
    if records.count < 2:
        run.note = f"{records.count} record(s) with a name: nothing to compare"
        return _finish(run, [], records)
    try:
        run.model = current_model(records=records, retrain=retrain)
    except engine.TooFewDuplicates as error:
        logger.warning("match run skipped: %s", error)
        run.note = str(error)
        return _finish(run, [], records)
    pairs = engine.predict_pairs(
        records.table,
        run.model.model,
        threshold=settings.OMNITRAIL_MATCH_REVIEW_THRESHOLD,
        **_engine_options(),
    )
    return _finish(run, pairs, records)


def incremental_run() -> MatchRun:
    """Score the records of touchpoints resolved since the last run against all others
    with the saved model; a full run instead when there is no model or run yet."""
    last = MatchRun.objects.filter(finished_at__isnull=False, model__isnull=False).first()
    model = MatchModel.objects.filter(active=True).first()
    if last is None or model is None:
        return full_run()
    run = MatchRun(mode=MatchRun.Mode.INCREMENTAL, started_at=timezone.now(), model=model)
    # Touchpoints resolved a little before the last run started are scored again, so
    # that a batch committed while that run was reading is not missed.
    since = last.started_at - dt.timedelta(seconds=settings.OMNITRAIL_MATCH_OVERLAP_SECONDS)
    new = match_records(Touchpoint.objects.filter(resolved_at__gte=since))
    run.records = new.count
    if not new.count:
        return _finish(run, [], new)
    threshold = settings.OMNITRAIL_MATCH_REVIEW_THRESHOLD
    if settings.OMNITRAIL_MATCH_KEEP_RECORDS and settings.OMNITRAIL_MATCH_BACKEND == "duckdb":
        kept = _kept_records(model, last)
        pairs = kept.records.predict_new(new.table, threshold=threshold)
        pairs = _with_profiles(pairs, new.profile_of)
        run = _finish(run, pairs, Records(new.table, pairs.profile_of))
        kept.records.add(new.table)
        kept.last_run = (run.pk, run.finished_at)
        return run
    # Against all records, not only those sharing a blocking key: term frequencies (how
    # common a surname or postcode is) must come from everyone, as in training. A record
    # in both tables counts as new.
    everyone = match_records()
    pairs = engine.predict_new_against_existing(
        everyone.table, new.table, model.model, threshold=threshold, **_engine_options()
    )
    # A new record that repeats an older one of its profile has its own id in `new`.
    return _finish(run, pairs, Records(everyone.table, everyone.profile_of | new.profile_of))


@dataclass
class _Kept:
    """The existing records of incremental runs, kept in this process between runs
    (`engine.KeptRecords`), and what they are valid for: the model, and the run after
    which they held every record (the last run, full or incremental, of any process)."""

    records: engine.KeptRecords
    model_id: int
    fingerprint: str
    last_run: tuple[int, dt.datetime | None]  # its id and when it finished


_kept: _Kept | None = None


def _kept_records(model: MatchModel, last: MatchRun) -> _Kept:
    """The kept records, read anew from the database when the model changed (retrained)
    or another run (a full run, another worker's run) happened since they were kept."""
    global _kept
    fingerprint = engine.model_fingerprint(model.model)
    if (
        _kept is not None
        and _kept.model_id == model.pk
        and _kept.fingerprint == fingerprint
        and _kept.last_run == (last.pk, last.finished_at)
    ):
        return _kept
    forget_kept_records()
    everyone = match_records()
    records = engine.KeptRecords(
        everyone.table, model.model, memory_limit=settings.OMNITRAIL_MATCH_MEMORY_LIMIT
    )
    _kept = _Kept(records, model.pk, fingerprint, (last.pk, last.finished_at))
    return _kept


def forget_kept_records() -> None:
    """Drop the records kept for incremental runs (the next run reads them anew)."""
    global _kept
    if _kept is not None:
        _kept.records.close()
    _kept = None


class _PairsWithProfiles(engine.ScoredPairs):
    profile_of: dict[int, int]


def _with_profiles(pairs: engine.ScoredPairs, new_profiles: dict[int, int]) -> _PairsWithProfiles:
    """The pairs whose records still exist, with the profile each record belongs to now
    (a kept record is a touchpoint id: its touchpoint may have been erased or merged
    since it was kept)."""
    ids = {pair.left_id for pair in pairs} | {pair.right_id for pair in pairs}
    owners = dict(
        Touchpoint.objects.filter(id__in=ids - set(new_profiles))
        .exclude(profile__isnull=True)
        .values_list("id", "profile_id")
    )
    current = active_profiles(set(owners.values()))
    profile_of = {uid: current[owner] for uid, owner in owners.items() if owner in current}
    profile_of |= {uid: new_profiles[uid] for uid in ids & set(new_profiles)}
    kept = _PairsWithProfiles(
        pair for pair in pairs if pair.left_id in profile_of and pair.right_id in profile_of
    )
    kept.comparisons = pairs.comparisons
    kept.profile_of = profile_of
    return kept


def _finish(run: MatchRun, pairs: list[engine.ScoredPair], records: Records) -> MatchRun:
    run.pairs_scored = len(pairs)
    run.comparisons = getattr(pairs, "comparisons", 0)
    with transaction.atomic():
        run.save()
        _apply_pairs(run, pairs, records.profile_of)
        run.finished_at = timezone.now()
        run.save()
    return run


def _apply_pairs(run: MatchRun, pairs: list[engine.ScoredPair], profile_of: dict[int, int]) -> None:
    """Merge the profiles of sure pairs, strongest first, under the same guardrails as
    stitching; queue the borderline pairs (and sure ones a guardrail refused) for staff.
    Pairs of records of one profile say nothing new and are skipped."""
    merge_at = settings.OMNITRAIL_MATCH_MERGE_THRESHOLD
    profiles = _Profiles.of(
        {profile_of[pair.left_id] for pair in pairs} | {profile_of[pair.right_id] for pair in pairs}
    )
    reviews: dict[tuple[int, int], MatchReview] = {}
    for pair in sorted(pairs, key=lambda p: (-p.match_probability, p.left_id, p.right_id)):
        left = profiles.current(profile_of[pair.left_id])
        right = profiles.current(profile_of[pair.right_id])
        if left == right:
            continue
        if pair.match_probability < merge_at:
            _queue(reviews, run, pair, left, right)
        elif refusal := profiles.refusal(left, right):
            _refuse(run, pair, left, right, *refusal)
            if refusal[0] != Refusal.Reason.UNMERGED:  # staff have already said no to those
                _queue(reviews, run, pair, left, right)
        else:
            _merge(run, pair, left, right)
            profiles.merged(left, right)
            run.merges += 1
    run.reviews = _save_reviews(reviews)
    rebuild_golden_records(profiles.touched)


@dataclass
class _Profiles:
    """The profiles a run's pairs name, followed through the merges the run makes: who
    each has become, who it holds, its identifiers per kind, the pairs staff separated."""

    members: dict[int, set[int]]
    counts: dict[int, Counter]
    blocked: set[frozenset]
    groups: UnionFind = field(default_factory=UnionFind)
    survivors: dict[object, int] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, ids: set[int]) -> _Profiles:
        counts: dict[int, Counter] = {pk: Counter() for pk in ids}
        for profile_id, kind, n in (
            Identifier.objects.filter(profile_id__in=ids)
            .values_list("profile_id", "kind")
            .annotate(n=Count("id"))
            .order_by()
        ):
            counts[profile_id][kind] = n
        blocked = {
            frozenset(pair)
            for pair in MergeBlock.objects.filter(
                Q(low_id__in=ids) | Q(high_id__in=ids)
            ).values_list("low_id", "high_id")
        }
        return cls(members={pk: {pk} for pk in ids}, counts=counts, blocked=blocked)

    def current(self, pk: int) -> int:
        return self.survivors.get(self.groups.find(pk), pk)

    def refusal(self, left: int, right: int) -> tuple[str, str] | None:
        return merge_refusal(
            self.members[left],
            self.members[right],
            left_counts=self.counts[left],
            right_counts=self.counts[right],
            blocked=self.blocked,
            limits=settings.OMNITRAIL_IDENTIFIER_LIMITS,
        )

    def merged(self, left: int, right: int) -> None:
        survivor, merged = sorted((left, right))
        self.survivors[self.groups.union(left, right)] = survivor
        self.members[survivor] |= self.members.pop(merged)
        self.counts[survivor] += self.counts.pop(merged)
        self.touched.add(survivor)


def _queue(
    reviews: dict[tuple[int, int], MatchReview],
    run: MatchRun,
    pair: engine.ScoredPair,
    left: int,
    right: int,
) -> None:
    key = (min(left, right), max(left, right))
    if key not in reviews:  # pairs come strongest first
        reviews[key] = MatchReview(
            left_id=key[0],
            right_id=key[1],
            match_probability=pair.match_probability,
            levels=pair.levels,
            run=run,
        )


def _refuse(
    run: MatchRun, pair: engine.ScoredPair, left: int, right: int, reason: str, detail: str
) -> None:
    Refusal.objects.create(
        reason=reason,
        kind="splink",
        value=f"records {pair.left_id}~{pair.right_id}",
        profiles=[left, right],
        detail=detail,
    )
    run.refused += 1


def _merge(run: MatchRun, pair: engine.ScoredPair, left: int, right: int) -> None:
    survivor, merged = sorted((left, right))
    merge_profiles(
        survivor,
        merged,
        method=MergeDecision.Method.SPLINK,
        evidence={
            "match_probability": round(pair.match_probability, 6),
            "match_weight": round(pair.match_weight, 3),
            "levels": pair.levels,
            "records": [pair.left_id, pair.right_id],  # the touchpoints that said them
        },
        decided_by=f"splink model v{run.model.version}" if run.model else "splink",
        rebuild=False,
    )


def _save_reviews(reviews: dict[tuple[int, int], MatchReview]) -> int:
    """Queue the reviews; a pair already in the queue (or decided) keeps its first entry."""
    known = set(
        MatchReview.objects.filter(
            left_id__in=[left for left, _ in reviews], right_id__in=[r for _, r in reviews]
        ).values_list("left_id", "right_id")
    )
    fresh = [review for key, review in reviews.items() if key not in known]
    MatchReview.objects.bulk_create(fresh)
    return len(fresh)
