"""Creating sources and checking their write keys."""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from cdp.errors import AuthenticationFailed, InvalidField, RateLimited
from cdp.models import Source, SourceKind, hash_write_key


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


def authenticate_source(write_key: str | None) -> Source:
    """The enabled source this write key belongs to, or AuthenticationFailed."""
    if not write_key:
        raise AuthenticationFailed(
            "no write key (send it as the Basic-auth user name or as writeKey)",
            code="missing_write_key",
            field="writeKey",
        )
    source = Source.objects.filter(write_key_hash=hash_write_key(write_key)).first()
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
    worker sees the same count.
    """
    limit = source.rate_limit or settings.OMNITRAIL_DEFAULT_RATE_LIMIT
    if limit <= 0:
        return
    key = f"omnitrail:rate:{source.pk}:{int(timezone.now().timestamp())}"
    cache.add(key, 0, timeout=5)
    used = cache.incr(key, events)
    if used > limit:
        raise RateLimited(
            f"source {source.name!r} sent more than {limit} events per second; retry later",
            retry_after=1,
        )
