"""Identity resolution in the background: thin tasks over identity.services."""

from celery import shared_task
from django.db import IntegrityError, OperationalError

from cdp.models import Touchpoint
from identity.services.stitching import resolve_pending, resolve_touchpoints

# Two workers may create the same new identifier at once: the loser retries and finds it.
RETRY = {
    "acks_late": True,
    "autoretry_for": (IntegrityError, OperationalError),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name="identity.tasks.resolve_new_touchpoints", **RETRY)
def resolve_new_touchpoints(source_id: int, message_ids: list[str]) -> int:
    ids = list(
        Touchpoint.objects.filter(source_id=source_id, message_id__in=message_ids).values_list(
            "id", flat=True
        )
    )
    return resolve_touchpoints(ids)


@shared_task(name="identity.tasks.sweep_unresolved_touchpoints", **RETRY)
def sweep_unresolved_touchpoints() -> int:
    """Catch what an ingest could not enqueue (the broker was down)."""
    return resolve_pending()


@shared_task(name="identity.tasks.match_profiles_full", acks_late=True)
def match_profiles_full(retrain: bool = False) -> int:
    from identity.services.matching import full_run

    return full_run(retrain=retrain).pk


@shared_task(name="identity.tasks.match_profiles_incremental", acks_late=True)
def match_profiles_incremental() -> int:
    from identity.services.matching import incremental_run

    return incremental_run().pk
