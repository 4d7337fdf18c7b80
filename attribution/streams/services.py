"""Event streams: the touchpoints a stream destination wants (sources, event names,
types), of the profiles its consent purpose may use, less the events that opted out of
it in their `integrations`, sent in batches in the Segment message format, signed with
HMAC-SHA256, retried with backoff, parked as failed (the dead-letter list) when out of
attempts; and a replay of a date range that sends exactly that range once more.

Forwarding follows a cursor (the last touchpoint id considered): each run takes the
touchpoints after it that identity resolution has placed, in id order, so a touchpoint
is forwarded once; one that is still unplaced holds the cursor back (for at most
`PLACEMENT_GRACE`, then it is judged as it is: without a profile, consent cannot allow
it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from attribution.segments.destinations import signature
from attribution.streams.models import StreamBatch, StreamDestination
from cdp.models import Touchpoint
from consent.policy import allowed_profiles

SCAN = 5_000  # touchpoints considered per forwarding run and per read
PLACEMENT_GRACE = timedelta(minutes=10)
TIMEOUT = 10
BACKOFF, MAX_BACKOFF = 5, 3600  # seconds before the 2nd attempt, doubling up to an hour
COLUMNS = (
    "pk",
    "type",
    "message_id",
    "event",
    "anonymous_id",
    "user_id",
    "previous_id",
    "group_id",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "properties",
    "traits",
    "context",
    "profile_id",
)


def _message_column() -> str | None:
    """The column holding the message's top-level keys as sent (`extras`), when cdp
    stores them (the `integrations` are read from it); None when only the parsed
    columns are kept."""
    names = {field.name for field in Touchpoint._meta.get_fields()}
    for name in ("extras", "message", "raw_message", "original_message"):
        if name in names:
            return name
    return None


MESSAGE = _message_column()


def integrations_of(row: dict[str, Any]) -> dict[str, Any]:
    """The event's `integrations` object: from the stored message when there is one,
    else from `context.integrations` (where some libraries copy it), else none."""
    message = row.get(MESSAGE) if MESSAGE else None
    for holder in (message, row.get("context")):
        if isinstance(holder, dict) and isinstance(holder.get("integrations"), dict):
            return holder["integrations"]
    return {}


def opted_in(integrations: dict[str, Any], name: str) -> bool:
    """Segment's rule: the destination's own key decides (false: not sent; true or an
    options object: sent), else "All" (default true)."""
    if name in integrations:
        return integrations[name] is not False
    return integrations.get("All", True) is not False


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def segment_message(row: dict[str, Any]) -> dict[str, Any]:
    """A touchpoint as a Segment message (the spec's common fields and its type's own)."""
    kind = row["type"]
    message: dict[str, Any] = {
        "type": kind,
        "messageId": row["message_id"],
        "timestamp": _iso(row["timestamp"]),
        "receivedAt": _iso(row["received_at"]),
        "context": row["context"] or {},
        "integrations": integrations_of(row),
    }
    for key, column in (("anonymousId", "anonymous_id"), ("userId", "user_id")):
        if row[column]:
            message[key] = row[column]
    for key, column in (("originalTimestamp", "original_timestamp"), ("sentAt", "sent_at")):
        if row[column]:
            message[key] = _iso(row[column])
    if kind == "track":
        message |= {"event": row["event"], "properties": row["properties"] or {}}
    elif kind in ("page", "screen"):
        message |= {"name": row["event"], "properties": row["properties"] or {}}
    elif kind == "identify":
        message["traits"] = row["traits"] or {}
    elif kind == "group":
        message |= {"groupId": row["group_id"], "traits": row["traits"] or {}}
    elif kind == "alias":
        message["previousId"] = row["previous_id"]
    return message


def matching(destination: StreamDestination) -> QuerySet[Touchpoint]:
    """The touchpoints the destination asked for (sources, event names, types)."""
    found = Touchpoint.objects.all()
    sources = list(destination.sources.values_list("pk", flat=True))
    if sources:
        found = found.filter(source_id__in=sources)
    if destination.event_names:
        found = found.filter(event__in=destination.event_names)
    if destination.types:
        found = found.filter(type__in=destination.types)
    return found


def _columns() -> tuple[str, ...]:
    return (*COLUMNS, MESSAGE) if MESSAGE else COLUMNS


def _rows(touchpoints: QuerySet[Touchpoint], order: tuple[str, ...]) -> Iterator[list[dict]]:
    """The touchpoints' rows, a read of `SCAN` at a time (memory stays bounded)."""
    chunk: list[dict] = []
    for row in touchpoints.order_by(*order).values(*_columns()).iterator(chunk_size=SCAN):
        chunk.append(row)
        if len(chunk) == SCAN:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _batches(
    destination: StreamDestination,
    touchpoints: QuerySet[Touchpoint],
    *,
    order: tuple[str, ...],
    replay: str = "",
) -> list[StreamBatch]:
    """Batches of the touchpoints the consent purpose and `integrations` let through;
    the destination's counters say how many each held back."""
    name = destination.integration_name or destination.name
    made: list[StreamBatch] = []
    pending: list[int] = []
    for rows in _rows(touchpoints, order):
        profiles = {row["profile_id"] for row in rows if row["profile_id"]}
        allowed = allowed_profiles(destination.purpose, profiles) if profiles else set()
        for row in rows:
            if row["profile_id"] not in allowed:
                destination.left_out_for_consent += 1
            elif not opted_in(integrations_of(row), name):
                destination.opted_out += 1
            else:
                pending.append(row["pk"])
                if len(pending) == destination.batch_size:
                    made.append(_batch(destination, pending, replay))
                    pending = []
    if pending:
        made.append(_batch(destination, pending, replay))
    destination.forwarded += sum(batch.events for batch in made)
    return made


def _batch(destination: StreamDestination, ids: list[int], replay: str) -> StreamBatch:
    return StreamBatch.objects.create(
        destination=destination,
        touchpoint_ids=ids,
        events=len(ids),
        replay=replay,
        next_attempt_at=timezone.now(),
    )


def forward_new(
    destination: StreamDestination, *, now: datetime | None = None
) -> list[StreamBatch]:
    """Batch the destination's touchpoints that arrived since its cursor (placed by
    identity resolution) and move the cursor past them; sent after commit."""
    now = now or timezone.now()
    with transaction.atomic():
        destination = StreamDestination.objects.select_for_update().get(pk=destination.pk)
        scanned = (
            Touchpoint.objects.filter(pk__gt=destination.cursor)
            .order_by("pk")
            .values_list("pk", "resolved_at", "received_at")[:SCAN]
        )
        last = destination.cursor
        for pk, resolved_at, received_at in scanned:
            if resolved_at is None and received_at > now - PLACEMENT_GRACE:
                break
            last = pk
        if last == destination.cursor:
            return []
        window = matching(destination).filter(pk__gt=destination.cursor, pk__lte=last)
        batches = _batches(destination, window, order=("pk",))
        destination.cursor = last
        destination.save(update_fields=["cursor", "forwarded", "left_out_for_consent", "opted_out"])
        ids = [batch.pk for batch in batches]
        transaction.on_commit(lambda: _enqueue(ids))
    return batches


def forward_all() -> int:
    """Every active stream destination forwards what is new; returns the batches made."""
    made = 0
    for destination in StreamDestination.objects.filter(active=True):
        made += len(forward_new(destination))
    return made


def replay_range(
    destination: StreamDestination, start: datetime, end: datetime
) -> list[StreamBatch]:
    """Send the destination's touchpoints that happened in [start, end) once more (in
    time order), consent and `integrations` judged as they are now."""
    if end <= start:
        raise ValueError("end: must be after start")
    label = f"replay {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    with transaction.atomic():
        destination = StreamDestination.objects.select_for_update().get(pk=destination.pk)
        window = matching(destination).filter(timestamp__gte=start, timestamp__lt=end)
        batches = _batches(destination, window, order=("timestamp", "pk"), replay=label)
        destination.save(update_fields=["forwarded", "left_out_for_consent", "opted_out"])
        ids = [batch.pk for batch in batches]
        transaction.on_commit(lambda: _enqueue(ids))
    return batches


def _enqueue(batch_ids: Iterable[int]) -> None:
    from attribution.segments.tasks import send_stream_batch  # the tasks call this module

    for pk in batch_ids:
        send_stream_batch.delay(pk)


def batch_body(batch: StreamBatch) -> bytes:
    """`{"batch": [Segment messages], "sentAt": ...}`, as Segment's /v1/batch takes it;
    a touchpoint erased since the batch was made is no longer in it."""
    rows = Touchpoint.objects.filter(pk__in=batch.touchpoint_ids).order_by("timestamp", "pk")
    messages = [segment_message(row) for row in rows.values(*_columns())]
    body = {"batch": messages, "sentAt": _iso(timezone.now())}
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def send_batch(batch: StreamBatch) -> float | None:
    """One attempt: POST the batch. Returns the seconds to wait before the next attempt
    when it failed and attempts remain (5 s, doubling, at most an hour); None when it
    was sent or is parked as failed (the dead-letter list, retried from the admin)."""
    if batch.status != StreamBatch.Status.PENDING:
        return None
    destination = batch.destination
    body = batch_body(batch)
    stamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(
        destination.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Omnitrail-Stream/1",
            "X-Omnitrail-Batch": str(batch.pk),
            "X-Omnitrail-Signature": signature(destination.secret, stamp, body),
        },
    )
    batch.attempts += 1
    batch.last_attempt_at = timezone.now()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status, reason = response.status, ""
    except urllib.error.HTTPError as error:
        status, reason = error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        status, reason = None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    if status is not None and 200 <= status < 300:
        batch.status, batch.sent_at = StreamBatch.Status.SENT, timezone.now()
        batch.last_error, batch.next_attempt_at = "", None
        batch.save()
        return None
    batch.last_error = reason or f"HTTP {status}"
    if batch.attempts >= destination.max_attempts:
        batch.status, batch.next_attempt_at = StreamBatch.Status.FAILED, None
        batch.save()
        return None
    wait = min(BACKOFF * 2 ** (batch.attempts - 1), MAX_BACKOFF)
    batch.next_attempt_at = batch.last_attempt_at + timedelta(seconds=wait)
    batch.save()
    return wait


def due_batches(now: datetime | None = None, *, grace: timedelta = timedelta(minutes=2)):
    """Pending batches whose next attempt is overdue by more than `grace` (a lost
    scheduled retry, or tasks run eagerly with no worker to schedule one)."""
    now = now or timezone.now()
    return StreamBatch.objects.filter(
        status=StreamBatch.Status.PENDING, next_attempt_at__lte=now - grace
    ).select_related("destination", "destination__purpose")


def retry_parked(batches: Iterable[StreamBatch]) -> int:
    """Parked (failed) batches sent again from their first attempt (the admin's action)."""
    ids = []
    for batch in batches:
        if batch.status == StreamBatch.Status.FAILED:
            batch.status, batch.attempts, batch.last_error = StreamBatch.Status.PENDING, 0, ""
            batch.next_attempt_at = timezone.now()
            batch.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
            ids.append(batch.pk)
    transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)
