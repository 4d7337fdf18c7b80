"""Merging and unmerging profiles, and rebuilding their golden records. A merge or
unmerge that may not happen raises MergeRefused (identity.errors, importable from here)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cdp.id_filters import one_of
from cdp.models import Profile, Touchpoint
from cdp.services.bulk import bulk_set
from identity.engine.golden import Observation, build_golden_record, standing
from identity.errors import MergeRefused
from identity.models import Identifier, MergeBlock, MergeDecision

# The touchpoints a golden record reads: identify calls, and any event whose context
# carries traits.
SAYS_TRAITS = Q(type="identify") | Q(context__has_key="traits")


def said_by(source: str, at: datetime, context_traits: object, traits: object) -> list[Observation]:
    """What one such touchpoint says: its context's traits, then its own."""
    return [
        Observation(trait, value, source, at)
        for said in (context_traits, traits)
        if isinstance(said, dict)
        for trait, value in said.items()
    ]


@transaction.atomic
def merge_profiles(
    survivor: Profile | int,
    merged: Profile | int,
    *,
    method: str,
    evidence: dict,
    decided_by: str = "system",
    rebuild: bool = True,
) -> MergeDecision:
    """Move everything of `merged` onto `survivor` and record why, so it can be undone.

    Identifiers and touchpoints move; the merged profile stays (pointing at the survivor)
    so an unmerge can restore it exactly. Other apps' rows (consent records) stay on
    the profile they were given for and are read through `merged_into`, so they follow
    a merge and its undo without being moved.
    """
    survivor_id = survivor if isinstance(survivor, int) else survivor.pk
    merged_id = merged if isinstance(merged, int) else merged.pk
    if survivor_id == merged_id:
        raise MergeRefused("a profile cannot be merged with itself")
    low, high = sorted((survivor_id, merged_id))
    if MergeBlock.objects.filter(low_id=low, high_id=high).exists():
        raise MergeRefused(f"profiles {low} and {high} were separated by staff")
    merged_profile = Profile.objects.get(pk=merged_id)
    snapshot = {
        "identifiers": list(
            Identifier.objects.filter(profile_id=merged_id).values_list("id", flat=True)
        ),
        "touchpoints": list(
            Touchpoint.objects.filter(profile_id=merged_id).values_list("id", flat=True)
        ),
        "traits": merged_profile.traits,
        "trait_sources": merged_profile.trait_sources,
    }
    Identifier.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)
    Touchpoint.objects.filter(profile_id=merged_id).update(profile_id=survivor_id)
    Profile.objects.filter(pk=merged_id).update(merged_into_id=survivor_id)
    decision = MergeDecision.objects.create(
        survivor_id=survivor_id,
        merged_id=merged_id,
        method=method,
        evidence=evidence,
        decided_by=decided_by,
        snapshot=snapshot,
    )
    if rebuild:
        rebuild_golden_records([survivor_id])
    return decision


@transaction.atomic
def merge_in_order(
    merges: Sequence[tuple[int, int, dict]], *, method: str, decided_by: str = "system"
) -> list[MergeDecision]:
    """`merge_profiles(survivor, merged, evidence=...)` for each (survivor, merged,
    evidence) in turn, without rebuilding golden records, set-based: the same decisions,
    snapshots and moves in a fixed number of queries, whatever the number of merges.

    Stitching a batch merges hundreds of profiles; one by one that took 35 ms each, a
    quarter of stitching's time. The merges are replayed in memory over the profiles'
    identifiers and touchpoints read once; each decision's snapshot is what the merged
    profile held at its turn (profiles it absorbed earlier in the list included), and
    each profile points at the one it was merged into, as one by one.
    """
    if not merges:
        return []
    for survivor, merged, _ in merges:
        if survivor == merged:
            raise MergeRefused("a profile cannot be merged with itself")
    involved = {profile for survivor, merged, _ in merges for profile in (survivor, merged)}
    pairs = {(min(s, m), max(s, m)) for s, m, _ in merges}
    for low, high in MergeBlock.objects.filter(
        low_id__in=involved, high_id__in=involved
    ).values_list("low_id", "high_id"):
        if (low, high) in pairs:
            raise MergeRefused(f"profiles {low} and {high} were separated by staff")
    merged_ids = [merged for _, merged, _ in merges]
    stored = {
        pk: (traits, sources)
        for pk, traits, sources in Profile.objects.filter(one_of("pk", merged_ids)).values_list(
            "pk", "traits", "trait_sources"
        )
    }
    holdings: dict[type[Identifier] | type[Touchpoint], dict[int, list[int]]] = {}
    first_owner: dict[type[Identifier] | type[Touchpoint], dict[int, int]] = {}
    for model in (Identifier, Touchpoint):
        held: dict[int, list[int]] = defaultdict(list)
        rows = model.objects.filter(one_of("profile_id", list(involved))).values_list(
            "profile_id", "id"
        )
        for profile, pk in rows.iterator(chunk_size=10_000):
            held[profile].append(pk)
        holdings[model] = held
        first_owner[model] = {pk: profile for profile, pks in held.items() for pk in pks}
    started = timezone.now()
    decisions = []
    for survivor, merged, evidence in merges:
        traits, sources = stored[merged]
        decisions.append(
            MergeDecision(
                survivor_id=survivor,
                merged_id=merged,
                method=method,
                evidence=evidence,
                decided_by=decided_by,
                snapshot={
                    "identifiers": list(holdings[Identifier][merged]),
                    "touchpoints": list(holdings[Touchpoint][merged]),
                    "traits": traits,
                    "trait_sources": sources,
                },
            )
        )
        for held in holdings.values():
            held[survivor].extend(held.pop(merged, []))
    for model, held in holdings.items():
        was = first_owner[model]
        moved = [(pk, owner) for owner, pks in held.items() for pk in pks if was[pk] != owner]
        bulk_set(model, [pk for pk, _ in moved], {"profile_id": [owner for _, owner in moved]})
    bulk_set(
        Profile,
        merged_ids,
        {"merged_into_id": [survivor for survivor, _, _ in merges]},
    )
    created = MergeDecision.objects.bulk_create(decisions, batch_size=500)
    # One after the other, as one by one: an unmerge asks whether a later merge moved
    # the survivor on, by time.
    bulk_set(
        MergeDecision,
        [decision.pk for decision in created],
        {"created_at": [started + timedelta(microseconds=n) for n in range(len(created))]},
    )
    return created


@transaction.atomic
def unmerge(decision: MergeDecision, *, decided_by: str) -> Profile:
    """Restore the merged profile as it was, and keep the pair from merging again."""
    decision = MergeDecision.objects.select_for_update().get(pk=decision.pk)
    if decision.undone_at:
        raise MergeRefused(f"merge {decision.pk} was already undone")
    later = MergeDecision.objects.filter(
        merged_id=decision.survivor_id, undone_at__isnull=True, created_at__gt=decision.created_at
    ).first()
    if later:
        raise MergeRefused(
            f"profile {decision.survivor_id} was itself merged into {later.survivor_id} "
            f"afterwards; undo merge {later.pk} first"
        )
    merged_id, survivor_id = decision.merged_id, decision.survivor_id
    snapshot = decision.snapshot
    Identifier.objects.filter(pk__in=snapshot["identifiers"]).update(profile_id=merged_id)
    Touchpoint.objects.filter(pk__in=snapshot["touchpoints"]).update(profile_id=merged_id)
    Profile.objects.filter(pk=merged_id).update(
        merged_into=None, traits=snapshot["traits"], trait_sources=snapshot["trait_sources"]
    )
    low, high = sorted((merged_id, survivor_id))
    MergeBlock.objects.get_or_create(
        low_id=low, high_id=high, defaults={"reason": f"unmerged by {decided_by}"}
    )
    decision.undone_at = timezone.now()
    decision.undone_by = decided_by
    decision.save(update_fields=["undone_at", "undone_by"])
    rebuild_golden_records([survivor_id, merged_id])
    return Profile.objects.get(pk=merged_id)


def fold_into_golden_records(said: Mapping[int, Sequence[Observation]]) -> None:
    """Fold what each profile's new touchpoints said into its golden record, from the
    record as stored, without reading its earlier touchpoints again: live traffic
    reaches a profile in batch after batch, and rebuilding it each time from every
    touchpoint it ever had took 23 of stitching's 79 s in the time-ordered benchmark
    (docs/performance.md). A profile whose record cannot stand for
    its history (`golden.standing`: most_frequent, a value without provenance, a rule
    changed since) is rebuilt from its touchpoints instead."""
    if not said:
        return
    rules = settings.OMNITRAIL_TRAIT_RULES
    records: dict[int, tuple[dict, dict]] = {}
    rebuild: list[int] = []
    stored = Profile.objects.filter(one_of("pk", list(said))).values_list(
        "pk", "traits", "trait_sources"
    )
    for pk, traits, provenance in stored:
        kept = standing(traits or {}, provenance or {}, rules=rules)
        if kept is None:
            rebuild.append(pk)
            continue
        records[pk] = build_golden_record(
            [*kept, *said[pk]], rules=rules, source_priority=settings.OMNITRAIL_SOURCE_PRIORITY
        )
    if records:
        bulk_set(
            Profile,
            list(records),
            {
                "traits": [traits for traits, _ in records.values()],
                "trait_sources": [sources for _, sources in records.values()],
            },
            updated_at=timezone.now(),
        )
    rebuild_golden_records(rebuild)


def rebuild_golden_records(profile_ids: Iterable[int]) -> None:
    """Recompute traits (and where each came from) from the profiles' touchpoints."""
    profile_ids = list(set(profile_ids))
    if not profile_ids:
        return
    observations: dict[int, list[Observation]] = {pk: [] for pk in profile_ids}
    rows = (
        Touchpoint.objects.filter(one_of("profile_id", profile_ids))
        .filter(SAYS_TRAITS)
        .values_list("profile_id", "source__name", "timestamp", "traits", "context__traits")
    )
    for profile_id, source, at, traits, context_traits in rows.iterator(chunk_size=2000):
        observations[profile_id] += said_by(source, at, context_traits, traits)
    # One write per profile, straight from the ids: a profile since deleted matches no
    # row (reading the profiles first only to learn which exist cost a query and a model
    # instance each).
    records = [
        build_golden_record(
            observations[pk],
            rules=settings.OMNITRAIL_TRAIT_RULES,
            source_priority=settings.OMNITRAIL_SOURCE_PRIORITY,
        )
        for pk in profile_ids
    ]
    bulk_set(
        Profile,
        profile_ids,
        {
            "traits": [traits for traits, _ in records],
            "trait_sources": [sources for _, sources in records],
        },
        updated_at=timezone.now(),
    )
