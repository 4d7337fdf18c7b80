"""The suppression list: identifiers of erased people, kept only as keyed hashes, and
the check ingestion runs so that their later events are never stored."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from consent.models import SuppressedIdentifier
from identity.engine.extract import identifiers_of_event

logger = logging.getLogger(__name__)

ACTIVE_KEY = "omnitrail:suppression-active"
# How long the cache keeps "the list is empty": short, so that an erasure whose own cache
# write failed (the cache unreachable from that process) is enforced everywhere soon after.
EMPTY_SECONDS, ACTIVE_SECONDS = 5, 60
# And each process keeps the cache's answer for a second more, so that a stream of
# single-event requests does not ask the cache each time; mark_active() forgets it at
# once in its own process.
PROCESS_SECONDS = 1.0
_known: tuple[float, bool] | None = None


def _key() -> bytes:
    if settings.OMNITRAIL_SUPPRESSION_KEY:
        return settings.OMNITRAIL_SUPPRESSION_KEY.encode()
    return salted_hmac("omnitrail.suppression", "key").digest()


def identifier_hash(kind: str, value: str) -> str:
    """HMAC-SHA256 of a normalised identifier: not reversible without the key."""
    return hmac.new(_key(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def search_fingerprint(kind: str, value: str) -> str:
    """What the audit log keeps of a search: the kind and a keyed hash of the value
    (the suppression list's HMAC), so that "who looked this person up?" can be answered
    from a value at hand while the log itself names no one."""
    return f"{kind}:{identifier_hash(kind, value)}"


def suppress(identifiers: Iterable[tuple[str, str]], *, request=None) -> list[dict[str, str]]:
    """Put these (kind, normalised value) identifiers on the list; returns their hashes."""
    hashed = [{"kind": kind, "hash": identifier_hash(kind, value)} for kind, value in identifiers]
    SuppressedIdentifier.objects.bulk_create(
        [
            SuppressedIdentifier(kind=h["kind"], value_hash=h["hash"], request=request)
            for h in hashed
        ],
        ignore_conflicts=True,
    )
    mark_active()
    return hashed


def mark_active() -> None:
    """Tell every process at once that the list is no longer empty."""
    global _known
    _known = None
    try:
        cache.set(ACTIVE_KEY, True, ACTIVE_SECONDS)
    except Exception:  # the cache client raises many kinds; the list itself is stored
        logger.warning(
            "the cache is unreachable: processes that cached an empty suppression list "
            "see the new entries within %s s",
            EMPTY_SECONDS,
            exc_info=True,
        )


def _active() -> bool:
    """Whether the list has any entry: cached, and read from the database whenever the
    cache cannot answer, so that the check is never skipped (an erasure must hold)."""
    global _known
    now = time.monotonic()
    if _known is not None and _known[0] > now:
        return _known[1]
    try:
        active = cache.get(ACTIVE_KEY)
    except Exception:  # the cache is down: the database answers
        logger.warning("the cache is unreachable: the suppression check reads the database")
        return SuppressedIdentifier.objects.exists()
    if active is None:
        active = SuppressedIdentifier.objects.exists()
        try:
            cache.set(ACTIVE_KEY, active, ACTIVE_SECONDS if active else EMPTY_SECONDS)
        except Exception:  # gone between the two calls: the answer stands
            logger.warning("the cache is unreachable: the suppression check reads the database")
    _known = (now + PROCESS_SECONDS, bool(active))
    return bool(active)


def suppressed_messages(rows: Mapping[str, dict[str, Any]]) -> set[str]:
    """The message ids of `rows` (normalised touchpoint rows) that carry a suppressed
    identifier, for ingestion to leave out; each is counted, as a dropped event, on the
    identifier that caused it."""
    if not rows or not _active():
        return set()
    keys_of = {
        message_id: [
            (kind, identifier_hash(kind, value))
            for kind, value in identifiers_of_event(
                row,
                identifier_traits=settings.OMNITRAIL_IDENTIFIER_TRAITS,
                default_region=settings.OMNITRAIL_DEFAULT_PHONE_REGION,
            )
        ]
        for message_id, row in rows.items()
    }
    hashes = {value_hash for keys in keys_of.values() for _, value_hash in keys}
    listed = set(
        SuppressedIdentifier.objects.filter(value_hash__in=hashes).values_list("kind", "value_hash")
    )
    if not listed:
        return set()
    dropped: set[str] = set()
    hits: Counter[tuple[str, str]] = Counter()
    for message_id, keys in keys_of.items():
        found = [key for key in keys if key in listed]
        if found:
            dropped.add(message_id)
            hits[found[0]] += 1
    now = timezone.now()
    for (kind, value_hash), count in hits.items():
        SuppressedIdentifier.objects.filter(kind=kind, value_hash=value_hash).update(
            events_dropped=F("events_dropped") + count, last_dropped_at=now
        )
    return dropped
