"""Redis (the cache and the broker) killed in the middle of ingestion, then restarted:
every /v1/ batch is still stored and answered 200, the erased stay out, and the sweep
resolves everything once Redis is back."""

from __future__ import annotations

import logging
import time

import orjson
from django.test import Client

from cdp.models import Touchpoint
from cdp.services.sources import create_source
from consent.models import SuppressedIdentifier
from consent.suppression import PROCESS_SECONDS, suppress
from tests.faults.conftest import Tally, basic_auth

BATCHES_PER_PHASE, EVENTS_PER_BATCH = 8, 25
ERASED = "gone@example.com"


def event(batch: int, index: int) -> dict:
    kind = "identify" if index % 5 == 0 else "track"
    body = {
        "type": kind,
        "messageId": f"b{batch}-e{index}",
        "anonymousId": f"visitor-{batch}-{index % 3}",
        "timestamp": "2026-11-30T10:00:00Z",
    }
    if kind == "identify":
        body |= {"userId": f"user-{batch}", "traits": {"email": f"u{batch}@example.com"}}
    else:
        body |= {"event": "Product Viewed", "properties": {"sku": f"sku-{index}"}}
    return body


def test_redis_killed_mid_ingest_loses_and_duplicates_nothing(
    transactional_db, app_on_own_redis, caplog
):
    redis = app_on_own_redis
    source, key = create_source("web", kind="web", rate_limit=100_000)
    suppress([("email", ERASED)])  # an erasure made before the outage must hold during it
    client, tally, erased_sent = Client(), Tally(), []
    statuses: dict[str, list[int]] = {}

    def send(batch: int, phase: str) -> None:
        events = [event(batch, i) for i in range(EVENTS_PER_BATCH)]
        erased = {
            "type": "identify",
            "messageId": f"b{batch}-erased",
            "userId": f"erased-{batch}",
            "traits": {"email": ERASED},
        }
        response = client.post(
            "/v1/batch",
            orjson.dumps({"batch": [*events, erased]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth(key),
        )
        statuses.setdefault(phase, []).append(response.status_code)
        tally.note(response.status_code, [e["messageId"] for e in events])
        erased_sent.append(erased["messageId"])
        if response.status_code == 200:
            assert response.json()["suppressed"] == 1, response.json()

    caplog.set_level(logging.WARNING)
    batch = 0
    for phase in ("up", "down", "back"):
        if phase == "down":
            redis.stop()
            # what the process remembered of the suppression list lapses in the outage
            time.sleep(PROCESS_SECONDS)
        if phase == "back":
            redis.start()
        for _ in range(BATCHES_PER_PHASE):
            send(batch, phase)
            batch += 1

    stored = list(Touchpoint.objects.values_list("message_id", flat=True))
    figures = tally.against(stored)
    print("redis killed mid-ingest:", figures, {p: set(s) for p, s in statuses.items()})
    assert {phase: set(codes) for phase, codes in statuses.items()} == {
        "up": {200},
        "down": {200},
        "back": {200},
    }
    sent = 3 * BATCHES_PER_PHASE * EVENTS_PER_BATCH
    assert figures == {
        "sent": sent,
        "answered_200": sent,
        "stored": sent,
        "lost": 0,
        "duplicated": 0,
    }
    # the erased person's events were kept out in every phase, the outage included
    assert not Touchpoint.objects.filter(message_id__in=erased_sent).exists()
    assert SuppressedIdentifier.objects.get().events_dropped == 3 * BATCHES_PER_PHASE
    # what the operator reads in the log while it was down
    messages = [record.getMessage() for record in caplog.records]
    assert any("rate limit is not applied" in m for m in messages), messages
    assert any("suppression check reads the database" in m for m in messages), messages
    assert any("could not enqueue" in m for m in messages), messages

    # Redis came back empty (what was queued before the crash is gone): the sweep finds
    # every touchpoint still unresolved and resolves it.
    from identity.tasks import sweep_unresolved_touchpoints

    unresolved_before = Touchpoint.objects.filter(resolved_at=None).count()
    assert unresolved_before == sent  # no worker in this test: nothing was consumed
    sweep_unresolved_touchpoints.apply()
    assert Touchpoint.objects.filter(resolved_at=None).count() == 0
    assert Touchpoint.objects.filter(profile=None).count() == 0
