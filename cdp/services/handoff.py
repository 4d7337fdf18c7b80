"""Handing new touchpoints on to the work after ingestion (identity first), coalesced.

One Celery chain per request costs more than storing a single browser event (building
and publishing the chain: milliseconds). So with a Redis broker each stored batch adds
one entry to a Redis list (its source and message ids) and, only when no drain is
already scheduled, schedules one: `cdp.tasks.drain_handoffs` takes up to DRAIN_ENTRIES
entries at a time, merges them per source, and starts the same chain
(cdp.ingest_steps) once per source and MAX_IDS ids. Under load many requests share one
chain, which also gives identity bigger batches; at rest a lone event is handed on at
once.

Nothing depends on the list for safety: an entry lost with Redis (or with a worker
killed between taking it and starting its chain) belongs to touchpoints stored
unresolved, which the periodic sweeps find (identity.tasks.sweep_unresolved_touchpoints,
consent.tasks.sweep_touchpoint_consents), as when the broker is down at ingest.

Eager tasks (the embedded default, the tests) or another broker: the chain is started
directly, as before.
"""

from __future__ import annotations

import logging
import operator
from functools import reduce
from typing import Any

import orjson
import redis
from django.conf import settings

from cdp.ingest_steps import touchpoint_work

logger = logging.getLogger(__name__)

PENDING_KEY = "omnitrail:handoff:pending"
SCHEDULED_KEY = "omnitrail:handoff:scheduled"
# A scheduled drain that never ran (lost with its worker) lets another be scheduled
# after this long; the sweeps cover what it held meanwhile.
SCHEDULED_SECONDS = 10
DRAIN_ENTRIES = 2_000
MAX_IDS = 5_000

# The entry added and a drain claimed when none is scheduled: one round trip.
_HAND_OFF_SCRIPT = """
redis.call('RPUSH', KEYS[1], ARGV[1])
return redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2])
"""
_client: redis.Redis | None = None
_script: Any = None
_url = ""


def _redis() -> redis.Redis | None:
    """The broker's Redis, when the broker is Redis and tasks are not eager."""
    global _client, _script, _url
    from cdp.celery import app

    if app.conf.task_always_eager or not settings.OMNITRAIL_COALESCE_HANDOFF:
        return None
    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    if _client is None or _url != url:
        _url = url
        timeout = settings.OMNITRAIL_CACHE_TIMEOUT_SECONDS
        _client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        _script = _client.register_script(_HAND_OFF_SCRIPT)
    return _client


def start_work(source_id: int, message_ids: list[str], with_consent: list[str]) -> None:
    """The chain of the registered steps on these touchpoints, sent to the broker."""
    steps = touchpoint_work(source_id, message_ids, with_consent)
    if steps:
        reduce(operator.or_, steps).delay()


def hand_off(source_id: int, message_ids: list[str], with_consent: list[str]) -> None:
    """Hand these stored touchpoints on (called after their transaction commits)."""
    client = _redis()
    if client is None:
        start_work(source_id, message_ids, with_consent)
        return
    entry = orjson.dumps([source_id, message_ids, with_consent])
    if _script(keys=[PENDING_KEY, SCHEDULED_KEY], args=[entry, SCHEDULED_SECONDS]):
        from cdp.tasks import drain_handoffs

        drain_handoffs.delay()


def drain() -> int:
    """Start the work of every waiting entry; returns how many entries were taken."""
    client = _redis()
    if client is None:
        return 0
    # Cleared first: an entry added from now on schedules the next drain itself.
    client.delete(SCHEDULED_KEY)
    taken = 0
    while True:
        entries: Any = client.lpop(PENDING_KEY, DRAIN_ENTRIES)
        if not entries:
            return taken
        taken += len(entries)
        merged: dict[int, tuple[list[str], list[str]]] = {}
        for entry in entries:
            source_id, message_ids, with_consent = orjson.loads(entry)
            ids, consent = merged.setdefault(source_id, ([], []))
            ids.extend(message_ids)
            consent.extend(with_consent)
        for source_id, (ids, consent) in merged.items():
            wanted = set(consent)
            for start in range(0, len(ids), MAX_IDS):
                part = ids[start : start + MAX_IDS]
                start_work(source_id, part, [i for i in part if i in wanted])
        if len(entries) < DRAIN_ENTRIES:
            return taken
