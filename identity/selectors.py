"""Reads of the identity graph, for other apps and for reports."""

from django.conf import settings
from django.db.models import Count, QuerySet

from cdp.models import Profile
from identity.engine.normalize import normalize_identifier
from identity.models import Identifier, MatchReview, MergeDecision, Refusal


def identifiers_of_profile(profile: Profile) -> QuerySet[Identifier]:
    return Identifier.objects.filter(profile=profile).order_by("kind", "value")


def profile_ids_for_identifier(kind: str, value: str) -> QuerySet:
    normalized = normalize_identifier(
        kind, value, default_region=settings.OMNITRAIL_DEFAULT_PHONE_REGION
    )
    return Identifier.objects.filter(kind=kind, value=normalized or "").values("profile_id")


def merge_history(profile: Profile) -> QuerySet[MergeDecision]:
    """Merges this profile took part in, newest first."""
    return MergeDecision.objects.filter(survivor=profile) | MergeDecision.objects.filter(
        merged=profile
    )


def identifier_profiles() -> dict[tuple[str, str], int]:
    """Every identifier and the profile it belongs to (for scoring against a truth)."""
    rows = Identifier.objects.values_list("kind", "value", "profile_id").iterator(chunk_size=10_000)
    return {(kind, value): profile for kind, value, profile in rows}


def identity_summary() -> dict:
    """Figures for the demo and operators."""
    return {
        "identifiers_by_kind": dict(
            Identifier.objects.values_list("kind").annotate(n=Count("id")).order_by()
        ),
        "quarantined_identifiers": Identifier.objects.filter(
            status=Identifier.Status.QUARANTINED
        ).count(),
        "merges_by_method": dict(
            MergeDecision.objects.filter(undone_at__isnull=True)
            .values_list("method")
            .annotate(n=Count("id"))
            .order_by()
        ),
        "refusals_by_reason": dict(
            Refusal.objects.values_list("reason").annotate(n=Count("id")).order_by()
        ),
        "reviews_pending": MatchReview.objects.filter(status=MatchReview.Status.PENDING).count(),
    }
