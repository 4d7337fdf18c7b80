"""Storing incoming events: validate, dedupe, write raw touchpoints, hand them on (to
identity, consent and segments, through cdp.ingest_steps)."""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cdp.engine.dates import read_date_traits
from cdp.engine.messages import InvalidMessage, Limits, normalize_message
from cdp.errors import OmnitrailError
from cdp.ingest_steps import check_event_consent, suppressed_messages, touchpoint_work
from cdp.models import RejectedEvent, Source, Touchpoint
from cdp.services.bulk import copy_if_all_new
from cdp.tracking_plans.ingest import plan_check_for

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
    # Stored events with a part that was dropped (consent that cannot be read).
    warnings: list[Rejection] = field(default_factory=list)
    # Events of erased people (an identifier on the suppression list): never stored.
    suppressed: int = 0


def ingest_limits(*, allow_identifier_traits: bool) -> Limits:
    return Limits(
        max_event_bytes=settings.OMNITRAIL_MAX_EVENT_BYTES,
        identifier_traits=(
            tuple(settings.OMNITRAIL_IDENTIFIER_TRAITS) if allow_identifier_traits else ()
        ),
    )


def ingest_batch(
    source: Source,
    events: Sequence[Any],
    *,
    received_at: datetime | None = None,
    sent_at: datetime | None = None,
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
        try:
            row = normalize_message(
                raw,
                received_at=received_at,
                limits=limits,
                batch_sent_at=sent_at,
                batch_context=batch_context,
                field_prefix=prefix,
            )
        except InvalidMessage as error:
            result.rejected.append(
                Rejection(index, error.code, error.field, error.message, line=line)
            )
            continue
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
        plan.record(new)  # the plan's violation counts, for the events stored now
        if result.rejected and keep_rejections:
            record_rejections(source, events, result.rejected, channel=channel)
        if new:
            message_ids = [row["message_id"] for row in new]
            with_consent = [row["message_id"] for row in new if "consent" in row["context"]]
            transaction.on_commit(
                lambda: enqueue_touchpoint_work(source.pk, message_ids, with_consent=with_consent)
            )
    return result


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
                payload=events[rejection.index] if rejection.code != "event_too_large" else None,
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


def _too_large_excerpt(event: Any, rejection: Rejection) -> str:
    # An oversized event is kept as text, cut to the limit, so the table stays bounded.
    if rejection.code != "event_too_large":
        return ""
    return orjson.dumps(event)[: settings.OMNITRAIL_MAX_EVENT_BYTES].decode(errors="replace")


def record_rejected_body(source: Source, body: bytes, *, code: str, reason: str) -> None:
    """Keep a whole request body we could not read (bad gzip, bad JSON, too large)."""
    RejectedEvent.objects.create(
        source=source,
        raw_body=body[: settings.OMNITRAIL_MAX_BATCH_BYTES].decode(errors="replace"),
        code=code,
        reason=reason,
    )


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
    """Hand the new touchpoints on, as one Celery chain of the steps the apps above cdp
    registered (cdp.ingest_steps): identity resolution, then (for those carrying consent)
    consent recording, which needs the profiles identity finds, then the segments of the
    profiles they were placed on.

    If the broker is down the events are safe in the database: the periodic sweeps
    (`identity.tasks.sweep_unresolved_touchpoints`, `consent.tasks.sweep_touchpoint_consents`)
    find them, so we log and go on.
    """
    steps = touchpoint_work(source_id, message_ids, with_consent or [])
    if not steps:
        return
    work = reduce(operator.or_, steps)
    try:
        work.delay()
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
