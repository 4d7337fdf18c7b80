"""Forgetting people: the identity side of an erasure (GDPR art. 17)."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Q

from identity.models import Identifier, MatchReview, MergeBlock, MergeDecision, Refusal


def identifiers_of_profiles(profile_ids: Collection[int]) -> list[tuple[str, str]]:
    return list(
        Identifier.objects.filter(profile_id__in=profile_ids)
        .order_by("kind", "value")
        .values_list("kind", "value")
    )


def forget_profiles(profile_ids: Collection[int], values: Collection[str]) -> dict[str, int]:
    """Delete what identity holds about these profiles: their identifiers, the merge
    decisions, reviews and blocks that name them, and refusals that name them or their
    identifier values. Returns what was deleted, per kind."""
    ids = set(profile_ids)
    refusals = [
        pk
        for pk, value, profiles in Refusal.objects.values_list("pk", "value", "profiles")
        if value in values or ids.intersection(profiles or [])
    ]
    return {
        "identifiers": Identifier.objects.filter(profile_id__in=ids).delete()[0],
        "merge_decisions": MergeDecision.objects.filter(
            Q(survivor_id__in=ids) | Q(merged_id__in=ids)
        ).delete()[0],
        "match_reviews": MatchReview.objects.filter(
            Q(left_id__in=ids) | Q(right_id__in=ids)
        ).delete()[0],
        "merge_blocks": MergeBlock.objects.filter(Q(low_id__in=ids) | Q(high_id__in=ids)).delete()[
            0
        ],
        "refusals": Refusal.objects.filter(pk__in=refusals).delete()[0],
    }
