"""Identity resolution in the background: thin tasks over identity.services."""

import logging
import threading
import time
import uuid
from typing import Any

from celery import shared_task
from django.conf import settings
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
# between incremental ones, and two runs merging at once would race. The lock is a short
# lease its holder renews while the run lives: a worker killed mid-run (SIGKILL, the OOM
# killer) stops renewing, the lease lapses within OMNITRAIL_MATCH_LEASE_SECONDS, and the
# redelivered task (acks_late) or the next scheduled run takes it. A fixed lock for the
# longest run (6 hours here once) outlived its dead holder and skipped every run after it.
MATCH_LOCK = "identity:match-run"


def _one_run_at_a_time(run) -> int | None:
    lease = settings.OMNITRAIL_MATCH_LEASE_SECONDS
    token = uuid.uuid4().hex
    if not _take_lease(token, lease):
        logger.info("a Splink run is already under way (its lease is renewed); this one is skipped")
        return None
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew_lease, args=(token, lease, stop), name="match-lease", daemon=True
    )
    renewer.start()
    try:
        return run().pk
    finally:
        stop.set()
        renewer.join()
        if cache.get(MATCH_LOCK) == token:
            cache.delete(MATCH_LOCK)


def _take_lease(token: str, lease: int) -> bool:
    """Take the lock; if it is held, wait up to 1.5 leases for it to lapse. A redelivered
    task arrives while its dead predecessor's lease still runs: it must wait, not skip.
    A holder that still renews after that is alive, and this run is not needed."""
    deadline = time.monotonic() + 1.5 * lease
    while not cache.add(MATCH_LOCK, token, timeout=lease):
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(1.0, lease / 6))
    return True


def _renew_lease(token: str, lease: int, stop: threading.Event) -> None:
    while not stop.wait(lease / 3):
        try:
            if cache.get(MATCH_LOCK) != token or not cache.touch(MATCH_LOCK, lease):
                logger.error("the Splink run lost its lease: another run may start meanwhile")
                return
        except Exception:  # the cache client raises many kinds; the run goes on
            logger.warning("could not renew the Splink run's lease", exc_info=True)


@shared_task(name="identity.tasks.match_profiles_full", acks_late=True)
def match_profiles_full(retrain: bool = False) -> int | None:
    from identity.services.matching import full_run

    return _one_run_at_a_time(lambda: full_run(retrain=retrain))


@shared_task(name="identity.tasks.match_profiles_incremental", acks_late=True)
def match_profiles_incremental() -> int | None:
    from identity.services.matching import incremental_run

    return _one_run_at_a_time(incremental_run)
