"""Storing incoming events: validate, dedupe, write raw touchpoints, hand them on (to
identity, consent and segments, through cdp.ingest_steps)."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cdp.engine.dates import read_date_traits
from cdp.engine.messages import (
    InvalidMessage,
    Limits,
    MessageWarning,
    normalize_message,
    strip_nul,
)
from cdp.errors import OmnitrailError
from cdp.ingest_steps import check_event_consent, suppressed_messages
from cdp.models import IngestCount, RejectedEvent, Source, Touchpoint
from cdp.services.bulk import copy_if_all_new
from cdp.services.handoff import hand_off
from cdp.tracking_plans.ingest import NO_PLAN, plan_check_for

logger = logging.getLogger(__name__)


@dataclass
class Rejection:
    index: int
    code: str
    field: str
    message: str
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        body = {"index": self.index, "code": self.code, "field": self.field}
        if self.line is not None:
            body["line"] = self.line
        body["message"] = self.message
        return body


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Stored events with a part that was dropped or replaced (consent that cannot be
    # read, a time not believed, an amount not read, NUL characters).
    warnings: list[Rejection] = field(default_factory=list)
    # Stored events a bot or crawler sent (by their user agent).
    bots: int = 0
    # Events of erased people (an identifier on the suppression list): never stored.
    suppressed: int = 0


def ingest_limits(*, allow_identifier_traits: bool) -> Limits:
    return Limits(
        max_event_bytes=settings.OMNITRAIL_MAX_EVENT_BYTES,
        identifier_traits=(
            tuple(settings.OMNITRAIL_IDENTIFIER_TRAITS) if allow_identifier_traits else ()
        ),
        identifier_trait_names=tuple(settings.OMNITRAIL_IDENTIFIER_TRAITS),
        max_amount=Decimal(settings.OMNITRAIL_MAX_AMOUNT),
        anonymize_ip=settings.OMNITRAIL_ANONYMIZE_IP,
        strict_amounts=allow_identifier_traits,  # file imports (see Limits)
        bound_future=not allow_identifier_traits,
    )


# "batch[3].properties.revenue" is counted as "properties.revenue".
_POSITION = re.compile(r"^(batch)?\[\d+\]\.")


def count_for_source(source: Source, counts: Counter[tuple[str, str]]) -> None:
    """Add to the source's IngestCount rows (code, field): a few rows a batch at most."""
    now = timezone.now()
    for (code, name), added in counts.items():
        row, _ = IngestCount.objects.get_or_create(
            source=source, code=code, field=name[:255], defaults={"last_seen": now}
        )
        IngestCount.objects.filter(pk=row.pk).update(count=F("count") + added, last_seen=now)


def ingest_batch(
    source: Source,
    events: Sequence[Any],
    *,
    received_at: datetime | None = None,
    sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    channel: str = "http",
    lines: Sequence[int] | None = None,
    field_prefix: str = "batch",
    keep_rejections: bool = True,
) -> IngestResult:
    """Store the valid events of one batch in one transaction; keep each invalid one.

    A message already stored for this source (same messageId) is counted as a duplicate
    and not written again, so a client's retry stores nothing twice. The work on the new
    touchpoints (identity resolution first) is enqueued when the transaction commits,
    never inside it.
    """
    received_at = received_at or timezone.now()
    limits = ingest_limits(allow_identifier_traits=channel == "import")
    result = IngestResult()
    rows: dict[str, dict[str, Any]] = {}
    plan = plan_check_for(source)  # the source's tracking plan (cdp.tracking_plans)
    for index, raw in enumerate(events):
        line = lines[index] if lines is not None else None
        prefix = f"{field_prefix}[{index}]." if field_prefix else ""
        noted: list[MessageWarning] = []
        try:
            row = normalize_message(
                raw,
                received_at=received_at,
                limits=limits,
                batch_sent_at=sent_at,
                batch_context=batch_context,
                field_prefix=prefix,
                warnings=noted,
            )
        except InvalidMessage as error:
            result.rejected.append(
                Rejection(index, error.code, error.field, error.message, line=line)
            )
            continue
        result.warnings.extend(
            Rejection(index, warning.code, warning.field, warning.message, line=line)
            for warning in noted
        )
        if row["message_id"] in rows:
            result.duplicates += 1
            continue
        _drop_unreadable_consent(row, index, prefix, result, line)
        _read_dates(row, source, index, prefix, result, line)
        if not plan.screen(row, result, index=index, prefix=prefix, line=line):
            continue  # refused by the plan: among result.rejected
        rows[row["message_id"]] = row

    for message_id in suppressed_messages(rows):
        del rows[message_id]
        result.suppressed += 1
    candidates = [row | {"source_id": source.pk} for row in rows.values()]
    bots = sum(1 for row in candidates if row["is_bot"])
    if (
        candidates
        and not bots
        and not result.warnings
        and not (result.rejected and keep_rejections)
        and plan is NO_PLAN
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and copy_if_all_new(Touchpoint, candidates)
    ):
        # Nothing to write but the touchpoints (the common single event from a browser):
        # the COPY is its own transaction, one round trip instead of five.
        result.accepted = len(candidates)
        _enqueue_after_commit(source, candidates)
        return result
    with transaction.atomic():
        # The common case, a batch never seen: one COPY on PostgreSQL, with no look-up
        # first. A retried batch (or another database) takes the careful path: what is
        # already stored counts as a duplicate, and a concurrent retry storing the same
        # messages meanwhile does not fail this one.
        if (
            candidates
            and connection.vendor == "postgresql"
            and copy_if_all_new(Touchpoint, candidates)
        ):
            new = candidates
        else:
            existing = set(
                Touchpoint.objects.filter(source=source, message_id__in=list(rows)).values_list(
                    "message_id", flat=True
                )
            )
            new = [row for row in candidates if row["message_id"] not in existing]
            Touchpoint.objects.bulk_create(
                [Touchpoint(**row) for row in new], batch_size=1000, ignore_conflicts=True
            )
        result.duplicates += len(candidates) - len(new)
        result.accepted = len(new)
        result.bots = sum(1 for row in new if row["is_bot"])
        counts = Counter((w.code, _POSITION.sub("", w.field)) for w in result.warnings)
        if result.bots:
            counts[("bot", "")] += result.bots
        if counts:
            count_for_source(source, counts)
        plan.record(new)  # the plan's violation counts, for the events stored now
        if result.rejected and keep_rejections:
            record_rejections(source, events, result.rejected, channel=channel)
        _enqueue_after_commit(source, new)
    return result


def _enqueue_after_commit(source: Source, new: list[dict[str, Any]]) -> None:
    if not new:
        return
    message_ids = [row["message_id"] for row in new]
    with_consent = [row["message_id"] for row in new if "consent" in row["context"]]
    transaction.on_commit(
        lambda: enqueue_touchpoint_work(source.pk, message_ids, with_consent=with_consent)
    )


def record_rejections(
    source: Source | None,
    events: Sequence[Any],
    rejections: Sequence[Rejection],
    *,
    channel: str,
) -> None:
    RejectedEvent.objects.bulk_create(
        [
            RejectedEvent(
                source=source,
                payload=(
                    strip_nul(events[rejection.index])
                    if rejection.code not in _KEPT_AS_TEXT
                    else None
                ),
                raw_body=_too_large_excerpt(events[rejection.index], rejection),
                code=rejection.code,
                reason=rejection.message,
                index=rejection.index,
                line=rejection.line,
                channel=channel,
            )
            for rejection in rejections
        ]
    )


# Kept as text, cut, rather than as JSON: an oversized event (the table stays bounded)
# and one nested too deep for the encoders.
_KEPT_AS_TEXT = ("event_too_large", "too_deep")


def _too_large_excerpt(event: Any, rejection: Rejection) -> str:
    if rejection.code not in _KEPT_AS_TEXT:
        return ""
    limit = settings.OMNITRAIL_MAX_EVENT_BYTES
    try:
        text = orjson.dumps(event)[:limit].decode(errors="replace")
    except orjson.JSONEncodeError:  # deeper than orjson goes: Python's encoder, bounded
        text = json.dumps(event)[:limit]
    return text.replace("\x00", "")


def record_rejected_body(source: Source, body: bytes, *, code: str, reason: str) -> bool:
    """Keep a request body we could not read (bad gzip, bad JSON, too large), bounded:
    its first OMNITRAIL_REJECTED_BODY_BYTES, as text when it is UTF-8 without NUL, else
    base64; at most OMNITRAIL_REJECTED_BODIES_PER_HOUR per source, the others only
    counted (IngestCount "rejected_body_dropped"). True when it was kept."""
    since = timezone.now() - timedelta(hours=1)
    kept = RejectedEvent.objects.filter(
        source=source, received_at__gte=since, body_bytes__isnull=False
    ).count()
    if kept >= settings.OMNITRAIL_REJECTED_BODIES_PER_HOUR:
        count_for_source(source, Counter({("rejected_body_dropped", code): 1}))
        return False
    excerpt = body[: settings.OMNITRAIL_REJECTED_BODY_BYTES]
    try:
        text, encoding = excerpt.decode(), ""
        if "\x00" in text:
            raise UnicodeDecodeError("utf-8", excerpt, 0, 1, "NUL")
    except UnicodeDecodeError:
        # A cut may split a character: the whole excerpt then goes as base64 too.
        text, encoding = base64.b64encode(excerpt).decode(), "base64"
    RejectedEvent.objects.create(
        source=source,
        raw_body=text,
        raw_body_encoding=encoding,
        body_bytes=len(body),
        code=code,
        reason=reason,
    )
    return True


def _drop_unreadable_consent(
    row: dict[str, Any], index: int, prefix: str, result: IngestResult, line: int | None
) -> None:
    """Consent that cannot be read is left out of the stored event, which is kept, and
    the sender is told which field and why."""
    consent = row["context"].get("consent")
    if consent is None:
        return
    try:
        check_event_consent(consent)
    except OmnitrailError as error:
        row["context"] = {key: value for key, value in row["context"].items() if key != "consent"}
        result.warnings.append(
            Rejection(index, error.code, f"{prefix}{error.field}", f"{prefix}{error}", line)
        )


def _read_dates(
    row: dict[str, Any],
    source: Source,
    index: int,
    prefix: str,
    result: IngestResult,
    line: int | None,
) -> None:
    """Date traits (a birthday) are stored as ISO dates, read in the source's day/month
    order (or the record's country's); one that cannot be read is stored as given and
    the sender is told which."""
    places = [("traits", row["traits"]), ("context.traits", row["context"].get("traits"))]
    for place, traits in places:
        if not isinstance(traits, dict):
            continue
        for name in read_date_traits(traits, order=source.date_order or None):
            field_name = f"{prefix}{place}.{name}"
            result.warnings.append(
                Rejection(
                    index,
                    "unreadable_date",
                    field_name,
                    f"{field_name}: {str(traits[name])[:40]!r} is not a date that can be read; "
                    "kept as given",
                    line,
                )
            )


def enqueue_touchpoint_work(
    source_id: int, message_ids: list[str], *, with_consent: list[str] | None = None
) -> None:
    """Hand the new touchpoints on to the steps the apps above cdp registered
    (cdp.ingest_steps): identity resolution, then (for those carrying consent) consent
    recording, which needs the profiles identity finds, then the segments of the
    profiles they were placed on — through the coalescing hand-off (cdp.services.handoff).

    If the broker is down the events are safe in the database: the periodic sweeps
    (`identity.tasks.sweep_unresolved_touchpoints`, `consent.tasks.sweep_touchpoint_consents`)
    find them, so we log and go on.
    """
    try:
        hand_off(source_id, message_ids, with_consent or [])
    except Exception:  # the broker client raises many kinds; none may lose the batch
        logger.exception(
            "could not enqueue the work on new touchpoints (identity resolution first); "
            "the sweeps will pick it up"
        )


def resubmit_rejected(rejected: RejectedEvent) -> IngestResult:
    """Run a (possibly corrected) rejected event through ingestion again."""
    if rejected.source is None:
        raise ValueError("a rejection without a source cannot be resubmitted")
    result = ingest_batch(
        rejected.source,
        [rejected.payload],
        channel=rejected.channel,
        field_prefix="",
        keep_rejections=False,
    )
    if result.rejected:
        rejected.code = result.rejected[0].code
        rejected.reason = result.rejected[0].message
        rejected.save(update_fields=["code", "reason"])
    else:
        rejected.status = RejectedEvent.Status.RESUBMITTED
        rejected.resubmitted_at = timezone.now()
        rejected.save(update_fields=["status", "resubmitted_at"])
    return result
