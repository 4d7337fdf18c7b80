"""Staff decisions on borderline Splink pairs."""

from django.db import transaction
from django.utils import timezone

from identity.errors import MergeRefused
from identity.models import MatchReview, MergeBlock, MergeDecision
from identity.selectors import active_profiles
from identity.services.merging import merge_profiles


@transaction.atomic
def accept_review(review: MatchReview, *, decided_by: str) -> MergeDecision:
    """Staff say the pair is one person: merge them, keeping Splink's evidence."""
    current = active_profiles([review.left_id, review.right_id])
    left, right = current[review.left_id], current[review.right_id]
    if left == right:
        raise MergeRefused("these profiles are already one")
    survivor, merged = sorted((left, right))
    decision = merge_profiles(
        survivor,
        merged,
        method=MergeDecision.Method.MANUAL,
        evidence={
            "match_probability": review.match_probability,
            "levels": review.levels,
            "review": review.pk,
        },
        decided_by=decided_by,
    )
    review.status = MatchReview.Status.ACCEPTED
    review.decided_by, review.decided_at = decided_by, timezone.now()
    review.save(update_fields=["status", "decided_by", "decided_at"])
    return decision


@transaction.atomic
def reject_review(review: MatchReview, *, decided_by: str) -> None:
    """Staff say they are different people: the pair is never merged."""
    low, high = sorted((review.left_id, review.right_id))
    MergeBlock.objects.get_or_create(
        low_id=low, high_id=high, defaults={"reason": f"review rejected by {decided_by}"}
    )
    review.status = MatchReview.Status.REJECTED
    review.decided_by, review.decided_at = decided_by, timezone.now()
    review.save(update_fields=["status", "decided_by", "decided_at"])
