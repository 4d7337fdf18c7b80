"""Creating sources and checking their write keys."""

import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.utils import timezone

from cdp.errors import AuthenticationFailed, InvalidField, RateLimited
from cdp.models import Source, SourceKind, hash_write_key

logger = logging.getLogger(__name__)
# When the cache last failed here (monotonic seconds): the warning is logged once a minute
# per process, not once per request, while it is down.
_cache_down_logged_at: float | None = None


def new_write_key() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def create_source(name: str, *, kind: str, rate_limit: int | None = None) -> tuple[Source, str]:
    """Create a source and return it with its write key, which is never stored in clear."""
    if kind not in SourceKind.values:
        raise InvalidField(f"must be one of {', '.join(SourceKind.values)}", field="kind")
    write_key = new_write_key()
    source = Source.objects.create(
        name=name,
        kind=kind,
        write_key_hash=hash_write_key(write_key),
        write_key_prefix=write_key[:8],
        rate_limit=rate_limit,
    )
    return source, write_key


def rotate_write_key(source: Source) -> str:
    write_key = new_write_key()
    source.write_key_hash = hash_write_key(write_key)
    source.write_key_prefix = write_key[:8]
    source.save(update_fields=["write_key_hash", "write_key_prefix"])
    return write_key


# Sources found by their write key's hash, kept per process for a moment
# (OMNITRAIL_SOURCE_MEMO_SECONDS) so that a stream of single-event requests costs no
# query each; forgotten at once in the process that changes or deletes a source
# (forget_sources, on Source's save and delete), within the memo's seconds elsewhere.
# Unknown keys are never kept: a new source's key works at once everywhere.
_sources: dict[str, tuple[float, Source]] = {}


def forget_sources(**_: object) -> None:
    _sources.clear()


def _source_by_hash(key_hash: str) -> Source | None:
    seconds = settings.OMNITRAIL_SOURCE_MEMO_SECONDS
    now = time.monotonic()
    kept = _sources.get(key_hash)
    if kept is not None and kept[0] > now:
        return kept[1]
    source = Source.objects.filter(write_key_hash=key_hash).first()
    if source is not None and seconds > 0:
        if len(_sources) > 10_000:  # bounded: a flood of keys cannot grow it
            _sources.clear()
        _sources[key_hash] = (now + seconds, source)
    return source


def authenticate_source(write_key: str | None) -> Source:
    """The enabled source this write key belongs to, or AuthenticationFailed."""
    if not write_key:
        raise AuthenticationFailed(
            "no write key (send it as the Basic-auth user name or as writeKey)",
            code="missing_write_key",
            field="writeKey",
        )
    source = _source_by_hash(hash_write_key(write_key))
    if source is None:
        raise AuthenticationFailed("unknown write key", code="invalid_write_key", field="writeKey")
    if not source.enabled:
        raise AuthenticationFailed(
            f"source {source.name!r} is disabled",
            code="source_disabled",
            field="writeKey",
        )
    return source


def take_rate_budget(source: Source, events: int) -> None:
    """Count `events` against the source's per-second budget; RateLimited when it is spent.

    A fixed one-second window in the shared cache (Redis in production), so every web
    worker sees the same count. With the cache unreachable the budget fails open: the
    batch is stored (docs/api.md promises it) and a warning is logged, once a minute.
    Losing events to an outage of a counter would be worse than letting a burst through.
    """
    limit = source.rate_limit or settings.OMNITRAIL_DEFAULT_RATE_LIMIT
    if limit <= 0:
        return
    key = f"omnitrail:rate:{source.pk}:{int(timezone.now().timestamp())}"
    try:
        used = _count(key, events)
    except Exception:  # the cache client raises many kinds (redis, socket, pickling)
        _log_cache_down()
        return
    if used > limit:
        raise RateLimited(
            f"source {source.name!r} sent more than {limit} events per second; retry later",
            retry_after=1,
        )


# INCRBY, and EXPIRE on the window's first count: one round trip, no pipeline to build.
_COUNT_SCRIPT = """
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], 5) end
return used
"""
# One Redis client for the counter, on the cache's connection pool: Django's cache makes
# a new client (and its table of reply callbacks) for every call, which costs more than
# the round trip.
_counter: Any = None


def _count(key: str, events: int) -> int:
    """Add `events` to the window's counter and return it: one round trip to Redis;
    add-then-incr on other caches."""
    global _counter
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        if _counter is None or _counter[0] != settings.CACHES["default"]["LOCATION"]:
            client = backend._cache.get_client(write=True)
            _counter = (
                settings.CACHES["default"]["LOCATION"],
                client.register_script(_COUNT_SCRIPT),
            )
        return int(_counter[1](keys=[backend.make_and_validate_key(key)], args=[events]))
    cache.add(key, 0, timeout=5)
    return cache.incr(key, events)


def _log_cache_down() -> None:
    global _cache_down_logged_at
    now = time.monotonic()
    if _cache_down_logged_at is None or now - _cache_down_logged_at >= 60:
        _cache_down_logged_at = now
        logger.warning(
            "the cache (REDIS_URL) is unreachable: the rate limit is not applied "
            "until it returns; events are still stored",
            exc_info=True,
        )
