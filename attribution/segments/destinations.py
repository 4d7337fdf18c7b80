"""Activation: segments sent where they act. A file destination writes the current
members (CSV or NDJSON); a webhook receives entered / exited events, signed with
HMAC-SHA256, retried with backoff. Both send only the profiles that consented to the
destination's purpose and say how many were left out."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from attribution.segments.models import (
    Delivery,
    DeliveryEvent,
    Destination,
    DestinationMember,
    Export,
    ProfileFacts,
    Segment,
)
from attribution.segments.selectors import current_members, hour_label
from attribution.selectors.reports import held_out
from cdp.engine.batches import id_batches
from cdp.errors import InvalidField
from cdp.models import Profile
from consent.policy import allowed_profiles
from identity.selectors import identifiers_by_profile

EXPORT_COLUMNS = (
    "profile_id",
    "email",
    "phone",
    "user_id",
    "first_name",
    "last_name",
    "country",
    "best_contact_channel",
    "best_time_to_contact",
    "entered_at",
)
BATCH = 500  # events per webhook request
TIMEOUT = 10
BACKOFF, MAX_BACKOFF = 5, 3600  # seconds before the 2nd attempt, doubling up to an hour


def member_rows(profile_ids: list[int], entered: dict[int, datetime] | None = None) -> list[dict]:
    """What a destination gets per profile: ids to act on, name, best time to contact."""
    rows = []
    for chunk in id_batches(profile_ids):
        traits = dict(Profile.objects.filter(pk__in=chunk).values_list("pk", "traits"))
        facts = {
            f["profile_id"]: f
            for f in ProfileFacts.objects.filter(profile_id__in=chunk).values(
                "profile_id", "best_contact_channel", "best_hour_of_week"
            )
        }
        ids: dict[int, dict[str, str]] = {pk: {} for pk in chunk}
        for kind, value, pk in identifiers_by_profile(chunk):
            ids[pk].setdefault(kind, value)
        for pk in chunk:
            t = traits.get(pk) or {}
            f: Mapping[str, Any] = facts.get(pk, {})
            rows.append(
                {
                    "profile_id": pk,
                    "email": ids[pk].get("email", ""),
                    "phone": ids[pk].get("phone", ""),
                    "user_id": ids[pk].get("user_id", ""),
                    "first_name": t.get("first_name", ""),
                    "last_name": t.get("last_name", ""),
                    "country": t.get("country", ""),
                    "best_contact_channel": f.get("best_contact_channel", ""),
                    "best_time_to_contact": hour_label(f.get("best_hour_of_week")) or "",
                    "entered_at": entered[pk].isoformat() if entered and pk in entered else "",
                }
            )
    return rows


def export_folder(path: str) -> Path:
    """The folder a file destination writes to: `path` inside OMNITRAIL_EXPORT_DIR
    (blank: that folder itself). A path that leads out of it (`../..`, an absolute path
    elsewhere, a symbolic link out) is refused, naming the field: exports hold emails
    and phones, and must land only where the operator chose to keep them."""
    root = Path(settings.OMNITRAIL_EXPORT_DIR).resolve()
    folder = (root / (path or "")).resolve()
    if folder != root and root not in folder.parents:
        raise InvalidField(
            f"must be a folder inside the export directory {root} (OMNITRAIL_EXPORT_DIR)",
            field="path",
        )
    return folder


def export_segment(destination: Destination, segment: Segment) -> Export:
    """Write the segment's current members that consented to the destination's purpose
    to a new file in the destination's folder; the Export row says how many were left out."""
    if destination.kind != Destination.Kind.FILE:
        raise InvalidField(
            f"{destination.name} is a {destination.kind}, not a file", field="destination"
        )
    members = dict(current_members(segment).values_list("profile_id", "entered_at"))
    sendable, refused = _sendable(destination, members)
    allowed = sorted(sendable)
    rows = member_rows(allowed, members)
    folder = export_folder(destination.path)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{slugify(segment.name)}-{stamp}.{destination.format}"
    with path.open("w", newline="", encoding="utf-8") as out:
        if destination.format == Destination.Format.CSV:
            writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    return Export.objects.create(
        destination=destination,
        segment=segment,
        path=str(path),
        rows=len(rows),
        left_out_for_consent=refused,
    )


def _sendable(destination: Destination, profile_ids) -> tuple[set[int], int]:
    """Those of `profile_ids` the destination's purpose may use, less the ones a running
    holdout keeps out of its channel; and how many consent left out."""
    allowed = allowed_profiles(destination.purpose, profile_ids)
    refused = len(set(profile_ids)) - len(allowed)
    if destination.channel and allowed:
        allowed -= held_out(allowed, channel=destination.channel)
    return allowed, refused


def sync_webhooks(
    segment: Segment,
    *,
    scope: set[int] | None = None,
    now=None,
    only: Destination | None = None,
) -> list[Delivery]:
    """For each active webhook destination of the segment (or `only` that one): the
    consenting members it was not told about enter, those it was told about that left
    (or withdrew) exit. Sent after commit, one delivery per batch of events."""
    deliveries = []
    webhooks = segment.destinations.filter(active=True, kind=Destination.Kind.WEBHOOK)
    if only is not None:
        webhooks = webhooks.filter(pk=only.pk)
    for destination in webhooks:
        deliveries += _sync(destination, segment, scope, now or timezone.now())
    return deliveries


def _sync(destination, segment, scope, now) -> list[Delivery]:
    members = current_members(segment)
    told = DestinationMember.objects.filter(destination=destination, segment=segment)
    if scope is not None:
        ids = sorted(scope)
        members = members.filter(profile_id__in=ids)
        told = told.filter(profile_id__in=ids)
    should = set(members.values_list("profile_id", flat=True))
    allowed, left_out = _sendable(destination, should) if should else (set(), 0)
    known = set(told.values_list("profile_id", flat=True))
    entered, exited = sorted(allowed - known), sorted(known - allowed)
    if not entered and not exited:
        return []
    DestinationMember.objects.bulk_create(
        [
            DestinationMember(destination=destination, segment=segment, profile_id=p)
            for p in entered
        ],
        batch_size=2_000,
    )
    for chunk in id_batches(exited):
        told.filter(profile_id__in=chunk).delete()
    events = [("entered", p) for p in entered] + [("exited", p) for p in exited]
    deliveries = []
    for start in range(0, len(events), BATCH):
        delivery = Delivery.objects.create(
            destination=destination,
            segment=segment,
            left_out_for_consent=left_out,
            next_attempt_at=now,
        )
        DeliveryEvent.objects.bulk_create(
            [
                DeliveryEvent(delivery=delivery, profile_id=p, kind=kind, at=now)
                for kind, p in events[start : start + BATCH]
            ]
        )
        deliveries.append(delivery)
    transaction.on_commit(lambda: _enqueue([d.pk for d in deliveries]))
    return deliveries


def _enqueue(delivery_ids: Iterable[int]) -> None:
    from attribution.segments.tasks import deliver_webhook  # the tasks call this module

    for pk in delivery_ids:
        deliver_webhook.delay(pk)


def delivery_body(delivery: Delivery) -> bytes:
    events = list(delivery.events.order_by("pk").values("kind", "profile_id", "at"))
    rows = {r["profile_id"]: r for r in member_rows([e["profile_id"] for e in events])}
    body = {
        "delivery_id": delivery.pk,
        "destination": delivery.destination.name,
        "segment": {"id": delivery.segment_id, "name": delivery.segment.name},
        "left_out_for_consent": delivery.left_out_for_consent,
        "events": [
            {
                "type": e["kind"],
                "at": e["at"].isoformat(),
                **({"profile": rows[e["profile_id"]]} if e["kind"] == "entered" else {}),
                "profile_id": e["profile_id"],
            }
            for e in events
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<unix time>.<body>">`: the receiver
    recomputes it with the shared secret and rejects old timestamps (replays)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, *, max_age: int | None = None) -> bool:
    """What a receiver does with `X-Omnitrail-Signature`: recompute and compare (and,
    given `max_age` seconds, refuse an old timestamp: a replayed request)."""
    parts = dict(part.partition("=")[::2] for part in header.split(","))
    stamp = parts.get("t", "")
    if not stamp.isdigit():
        return False
    if max_age is not None and timezone.now().timestamp() - int(stamp) > max_age:
        return False
    return hmac.compare_digest(
        signature(secret, stamp, body), f"t={stamp},v1={parts.get('v1', '')}"
    )


def send_delivery(delivery: Delivery) -> float | None:
    """One attempt: POST the batch. Returns the seconds to wait before the next attempt
    when it failed and attempts remain (5 s, doubling, at most an hour); None when it
    was sent or has failed for good (then it waits for a replay in the admin)."""
    if delivery.status != Delivery.Status.PENDING:
        return None
    destination = delivery.destination
    body = delivery_body(delivery)
    timestamp = str(int(timezone.now().timestamp()))
    request = urllib.request.Request(
        destination.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Omnitrail-Webhook/1",
            "X-Omnitrail-Delivery": str(delivery.pk),
            "X-Omnitrail-Signature": signature(destination.secret, timestamp, body),
        },
    )
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status, reason = error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        status, reason = None, f"{type(error).__name__}: {getattr(error, 'reason', error)}"
    if status is not None and 200 <= status < 300:
        delivery.status, delivery.sent_at = Delivery.Status.SENT, timezone.now()
        delivery.last_error, delivery.next_attempt_at = "", None
        delivery.save()
        return None
    delivery.last_error = reason
    if delivery.attempts >= destination.max_attempts:
        delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
        delivery.save()
        return None
    wait = min(BACKOFF * 2 ** (delivery.attempts - 1), MAX_BACKOFF)
    delivery.next_attempt_at = delivery.last_attempt_at + timedelta(seconds=wait)
    delivery.save()
    return wait


def due_deliveries(now=None, *, grace: timedelta = timedelta(minutes=2)):
    """Pending deliveries whose next attempt is overdue by more than `grace` (their
    scheduled retry was lost, or tasks run eagerly with no worker to schedule one)."""
    now = now or timezone.now()
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=now - grace
    ).select_related("destination", "segment")


def replay(deliveries: Iterable[Delivery]) -> int:
    """Send failed deliveries again from the start (the admin's replay action)."""
    ids = []
    for delivery in deliveries:
        if delivery.status != Delivery.Status.SENT:
            delivery.status, delivery.attempts, delivery.last_error = "pending", 0, ""
            delivery.next_attempt_at = timezone.now()
            delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
            ids.append(delivery.pk)
    transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)
