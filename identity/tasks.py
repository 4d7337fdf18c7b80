"""Identity resolution in the background: thin tasks over identity.services."""

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache
from django.db import IntegrityError, OperationalError

from cdp.models import Touchpoint
from identity.services.stitching import resolve_pending, resolve_touchpoints

logger = logging.getLogger(__name__)

# Two workers may create the same new identifier at once: the loser retries and finds it.
RETRY: dict[str, Any] = {
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


# One Splink run at a time across all workers: a full run can outlast the 15 minutes
# between incremental ones, and two runs merging at once would race.
MATCH_LOCK, MATCH_LOCK_SECONDS = "identity:match-run", 6 * 3600


def _one_run_at_a_time(run) -> int | None:
    if not cache.add(MATCH_LOCK, 1, timeout=MATCH_LOCK_SECONDS):
        logger.info("a Splink run is already under way; this one is skipped")
        return None
    try:
        return run().pk
    finally:
        cache.delete(MATCH_LOCK)


@shared_task(name="identity.tasks.match_profiles_full", acks_late=True)
def match_profiles_full(retrain: bool = False) -> int | None:
    from identity.services.matching import full_run

    return _one_run_at_a_time(lambda: full_run(retrain=retrain))


@shared_task(name="identity.tasks.match_profiles_incremental", acks_late=True)
def match_profiles_incremental() -> int | None:
    from identity.services.matching import incremental_run

    return _one_run_at_a_time(incremental_run)
