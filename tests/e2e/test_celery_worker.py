"""Identity work through a real Celery worker and Redis, as in production."""

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from cdp.models import Touchpoint
from cdp.services.imports import import_file
from cdp.services.sources import create_source
from cdp.site.demo.labelled_records import make_population
from consent.models import ConsentRecord
from identity.engine.matching import MATCH_COLUMNS
from identity.models import Identifier, MatchModel, MatchRun, MergeDecision

pytestmark = [
    pytest.mark.real_worker,
    pytest.mark.skipif(
        not settings.REDIS_URL or connection.vendor != "postgresql",
        reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db):
    """A Celery worker process on the test database and the Redis broker."""
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
            f"{connection.settings_dict['PORT'] or 5432}/{connection.settings_dict['NAME']}"
        ),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cdp",
            "worker",
            "-Q",
            "default,identity,consent,segments,matching",
            "-P",
            "solo",
            "-l",
            "warning",
            "--without-heartbeat",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until(condition, *, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def test_ingested_events_are_stitched_by_the_worker(worker, web_source, segment_post):
    _, key = web_source
    batch = [
        {"type": "page", "anonymousId": "phone", "messageId": "w-1"},
        {
            "type": "identify",
            "anonymousId": "phone",
            "userId": "ann",
            "messageId": "w-2",
            "traits": {"email": "ann@example.com"},
            "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "anonymousId": "laptop",
            "userId": "ann",
            "messageId": "w-3",
            "properties": {"revenue": 10},
        },
    ]
    assert segment_post("batch", {"batch": batch}, write_key=key).status_code == 200
    # the request returned before identity ran: the worker does it from the queue
    resolved = wait_until(lambda: not Touchpoint.objects.filter(resolved_at__isnull=True).exists())
    assert resolved, worker.stdout.read() if worker.poll() is not None else "worker too slow"
    profile = Identifier.objects.get(kind="user_id", value="ann").profile
    assert set(Touchpoint.objects.values_list("profile", flat=True)) == {profile.pk}
    assert Identifier.objects.get(kind="anonymous_id", value="laptop").profile == profile
    # then, on the consent queue, what the identify said about consent, on that profile
    recorded = wait_until(ConsentRecord.objects.exists)
    assert recorded, "the consent task did not run"
    record = ConsentRecord.objects.get()
    assert (record.profile, record.purpose.key, record.status) == (profile, "analytics", "granted")


def test_single_events_from_many_requests_are_handed_on_together(worker, web_source, client):
    """Browser traffic, one event per request: each request adds its ids to the hand-off
    list (cdp.services.handoff) and the worker's drain starts identity for all of them;
    every event ends on its person's profile and the list is left empty."""
    import orjson
    import redis

    from cdp.services.handoff import PENDING_KEY

    _, key = web_source
    for number in range(40):
        person = f"visitor-{number % 4}"
        body = {"writeKey": key, "event": "Product Viewed", "anonymousId": person}
        body["messageId"] = f"single-{number}"
        if number >= 36:  # each visitor signs in once, in the last requests
            body = {"writeKey": key, "anonymousId": person, "userId": f"user-{number % 4}"}
            body["messageId"] = f"single-{number}"
            response = client.post("/v1/i", orjson.dumps(body), content_type="text/plain")
        else:
            response = client.post("/v1/t", orjson.dumps(body), content_type="text/plain")
        assert response.status_code == 200, response.content
    assert Touchpoint.objects.count() == 40
    resolved = wait_until(lambda: not Touchpoint.objects.filter(resolved_at__isnull=True).exists())
    assert resolved, worker.stdout.read() if worker.poll() is not None else "worker too slow"
    for number in range(4):
        profile = Identifier.objects.get(kind="anonymous_id", value=f"visitor-{number}").profile
        assert Identifier.objects.get(kind="user_id", value=f"user-{number}").profile == profile
        assert Touchpoint.objects.filter(profile=profile).count() == 10
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(PENDING_KEY) == 0


def test_the_sweep_task_resolves_what_was_never_enqueued(worker, web_source):
    from cdp.services.ingest import ingest_batch
    from identity.tasks import sweep_unresolved_touchpoints

    source, _ = web_source
    # stored without its on-commit hand-off, as when the broker was down
    ingest_batch(source, [{"type": "identify", "userId": "bob", "anonymousId": "b-1"}])
    Touchpoint.objects.update(resolved_at=None, profile=None)
    assert Touchpoint.objects.filter(resolved_at__isnull=True).count() == 1
    sweep_unresolved_touchpoints.delay()
    assert wait_until(lambda: Touchpoint.objects.filter(resolved_at__isnull=False).exists())
    assert Touchpoint.objects.get().profile == Identifier.objects.get(value="bob").profile


def test_a_queued_splink_run_is_done_by_the_worker(worker, tmp_path, capsys):
    """`match_profiles --full --queue` hands the run to the worker on the matching queue."""
    records, _ = make_population(300, seed=2)
    path = tmp_path / "crm.csv"
    columns = ["crm_id", *MATCH_COLUMNS]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for r in records:
            writer.writerow([f"crm-{r.unique_id}", *[getattr(r, c) or "" for c in MATCH_COLUMNS]])
    import_file(create_source("crm", kind="crm")[0], path, kind="records", id_column="crm_id")
    assert wait_until(lambda: not Touchpoint.objects.filter(profile=None).exists())

    call_command("match_profiles", "--full", "--queue")

    assert "queued" in capsys.readouterr().out
    finished = MatchRun.objects.filter(finished_at__isnull=False)
    assert wait_until(finished.exists, seconds=180)
    run = MatchRun.objects.get()
    assert run.model == MatchModel.objects.get() and run.records > 0.9 * len(records)
    assert run.merges == MergeDecision.objects.filter(method="splink").count() > 0
