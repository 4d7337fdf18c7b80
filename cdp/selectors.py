"""Reads of the cdp app's tables."""

from django.db.models import Count, QuerySet

from cdp.models import Profile, RejectedEvent, Source, Touchpoint


def touchpoints_of_profile(profile: Profile) -> QuerySet[Touchpoint]:
    return Touchpoint.objects.filter(profile=profile).order_by("timestamp", "id")


def open_rejections(source: Source | None = None) -> QuerySet[RejectedEvent]:
    rejections = RejectedEvent.objects.filter(status=RejectedEvent.Status.OPEN)
    return rejections.filter(source=source) if source else rejections


def storage_summary() -> dict:
    """What is stored, for the demo and operators: counts by source and by type."""
    by_source = dict(
        Touchpoint.objects.values_list("source__name").annotate(n=Count("id")).order_by()
    )
    by_type = dict(Touchpoint.objects.values_list("type").annotate(n=Count("id")).order_by())
    return {
        "touchpoints": sum(by_source.values()),
        "touchpoints_by_source": by_source,
        "touchpoints_by_type": by_type,
        "unresolved_touchpoints": Touchpoint.objects.filter(resolved_at__isnull=True).count(),
        "profiles": Profile.objects.filter(merged_into__isnull=True).count(),
        "profiles_merged_away": Profile.objects.filter(merged_into__isnull=False).count(),
        "rejected_events": RejectedEvent.objects.count(),
        "sources": Source.objects.count(),
    }


def profiles_of_messages(source_id: int, message_ids: list[str]) -> set[int]:
    """The profiles the touchpoints of one batch were placed on."""
    return set(
        Touchpoint.objects.filter(
            source_id=source_id, message_id__in=message_ids, profile__isnull=False
        ).values_list("profile_id", flat=True)
    )


def profiles_with_touchpoints_resolved_since(since) -> set[int]:
    return set(
        Touchpoint.objects.filter(resolved_at__gte=since, profile__isnull=False)
        .values_list("profile_id", flat=True)
        .distinct()
    )
