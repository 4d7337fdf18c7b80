"""A Celery worker SIGKILLed in the middle of a Splink run, then started again: the
redelivered run is done (its dead predecessor's lock lapses), and later runs are not
skipped."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.cache import cache
from django.db import connection

from cdp.models import Touchpoint
from cdp.services.imports import import_file
from cdp.services.sources import create_source
from cdp.site.demo.labelled_records import make_population
from identity.engine.matching import MATCH_COLUMNS
from identity.models import MatchRun
from identity.tasks import MATCH_LOCK
from tests.faults.conftest import ROOT, wait_until

LEASE, VISIBILITY = 4, 3

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a worker process shares the test database: needs PostgreSQL (DATABASE_URL)",
)


def start_worker(redis_url: str, log) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "OMNITRAIL_MATCH_LEASE_SECONDS": str(LEASE),
        "OMNITRAIL_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cdp", "worker", "-Q", "matching", "-P", "solo"]
        + ["-l", "info", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def crm_records(transactional_db, tmp_path):
    """150 CRM records with known duplicates, stitched in this process before any worker."""
    records, _ = make_population(150, seed=2)
    path = tmp_path / "crm.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["crm_id", *MATCH_COLUMNS])
        for r in records:
            writer.writerow([f"crm-{r.unique_id}", *[getattr(r, c) or "" for c in MATCH_COLUMNS]])
    import_file(create_source("crm", kind="crm")[0], path, kind="records", id_column="crm_id")
    assert not Touchpoint.objects.filter(profile=None).exists()
    return records


def test_a_run_killed_with_its_worker_is_redone_and_later_runs_go_on(
    crm_records, app_on_own_redis, tmp_path
):
    from identity.services.matching import match_records
    from identity.tasks import match_profiles_full, match_profiles_incremental

    redis = app_on_own_redis
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = start_worker(redis.url, log)
        try:
            match_profiles_full.delay()
            # mid-run: the worker holds the lock and has not finished
            assert wait_until(lambda: cache.get(MATCH_LOCK) is not None, seconds=40), (
                log_path.read_text()
            )
            assert not MatchRun.objects.filter(finished_at__isnull=False).exists()
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
            killed_at = time.monotonic()
            # the dead holder's lock is still there, and lapses within its lease
            assert cache.get(MATCH_LOCK) is not None
            assert wait_until(lambda: cache.get(MATCH_LOCK) is None, seconds=LEASE + 1)
            lapsed_after = time.monotonic() - killed_at
            assert not MatchRun.objects.exists()

            worker = start_worker(redis.url, log)
            # the unacknowledged task comes back after the visibility timeout and is run
            finished = MatchRun.objects.filter(finished_at__isnull=False)
            assert wait_until(finished.exists, seconds=45), log_path.read_text()
            run = MatchRun.objects.get()
            assert run.mode == MatchRun.Mode.FULL and run.records == match_records().count
            assert run.merges > 0
            # a later run is not skipped
            match_profiles_incremental.delay()
            # (its row is written when it starts; it holds the lock until it has finished)
            assert wait_until(lambda: finished.count() == 2, seconds=60), log_path.read_text()
            later = MatchRun.objects.order_by("-pk").first()
            assert later.mode == MatchRun.Mode.INCREMENTAL
            # released by its living holder once done: sooner than its lease could lapse
            assert wait_until(lambda: cache.get(MATCH_LOCK) is None, seconds=LEASE / 2)
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    text = log_path.read_text()
    assert "this one is skipped" not in text
    print(f"worker killed mid-run: lock lapsed {lapsed_after:.1f} s after the kill; redone")
