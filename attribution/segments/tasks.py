"""Segments and activation in the background: thin tasks over
attribution/segments/services.py and destinations.py.

Each task keeps the name it had when it lived in attribution/tasks.py
("attribution.tasks.<function>"): the queues (CELERY_TASK_ROUTES), the beat schedule
and messages already queued refer to it by that name."""

from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from attribution.segments.destinations import due_deliveries, send_delivery
from attribution.segments.models import Delivery, Segment
from attribution.segments.selectors import profiles_changed_since
from attribution.segments.services import (
    reevaluate_profiles,
    refresh_facts,
    refresh_segment,
    refresh_segments,
)
from attribution.streams.models import StreamBatch
from attribution.streams.services import due_batches, forward_all, send_batch
from cdp.selectors import profiles_of_messages

# Where the sweep of changed profiles got to (a missing mark looks back one hour).
SWEEP_MARK = "attribution:segments:changed-since"


@shared_task(name="attribution.tasks.refresh_due_segments", acks_late=True)
def refresh_due_segments() -> list[str]:
    """Each segment whose own interval has passed (beat: every 5 minutes)."""
    return [result.segment for result in refresh_segments(due_only=True)]


@shared_task(name="attribution.tasks.refresh_all_facts", acks_late=True)
def refresh_all_facts() -> int:
    """Every profile's facts, RFM edges and personas learnt anew (beat: nightly)."""
    return refresh_facts()


@shared_task(name="attribution.tasks.reevaluate_touchpoint_profiles", acks_late=True)
def reevaluate_touchpoint_profiles(source_id: int, message_ids: list[str]) -> dict:
    """After identity resolution placed a batch: its profiles' memberships anew, and the
    event streams forward what is new."""
    result = reevaluate_profiles(profiles_of_messages(source_id, message_ids))
    forward_all()
    return result


@shared_task(name="attribution.tasks.reevaluate_changed_profiles", acks_late=True)
def reevaluate_changed_profiles() -> dict:
    """Profiles changed since the last sweep by a merge, an unmerge, a consent change or
    a touchpoint resolved by the identity sweep (beat: every minute)."""
    now = timezone.now()
    since = cache.get(SWEEP_MARK) or now - timedelta(hours=1)
    result = reevaluate_profiles(profiles_changed_since(since))
    cache.set(SWEEP_MARK, now, None)
    return result


@shared_task(name="attribution.tasks.deliver_webhook", acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """POST one batch of segment events; after a failure the next attempt is scheduled
    with exponential backoff (5 s, 10 s, 20 s ... an hour) until the destination's max
    attempts, then the delivery stays failed, visible in the admin, for a replay."""
    delivery = Delivery.objects.select_related("destination", "segment").get(pk=delivery_id)
    wait = send_delivery(delivery)
    if wait is not None and not deliver_webhook.app.conf.task_always_eager:
        deliver_webhook.apply_async((delivery_id,), countdown=wait)
    return delivery.status


@shared_task(name="attribution.tasks.send_due_deliveries", acks_late=True)
def send_due_deliveries() -> int:
    """Deliveries whose retry is overdue (beat: every minute): one attempt each."""
    due = list(due_deliveries())
    for delivery in due:
        send_delivery(delivery)
    return len(due)


@shared_task(name="attribution.tasks.refresh_one_segment", acks_late=True)
def refresh_one_segment(segment_id: int) -> dict:
    """One segment's members anew (after staff saved its rules)."""
    return vars(refresh_segment(Segment.objects.get(pk=segment_id)))


@shared_task(name="attribution.tasks.forward_streams", acks_late=True)
def forward_streams() -> int:
    """Every stream destination's new touchpoints put in batches and sent (beat: every
    minute, and after each ingested batch)."""
    return forward_all()


@shared_task(name="attribution.tasks.send_stream_batch", acks_late=True)
def send_stream_batch(batch_id: int) -> str:
    """POST one batch of forwarded events; after a failure the next attempt is scheduled
    with exponential backoff until the destination's max attempts, then it is parked
    as failed (the dead-letter list in the admin)."""
    batch = StreamBatch.objects.select_related("destination").get(pk=batch_id)
    wait = send_batch(batch)
    if wait is not None and not send_stream_batch.app.conf.task_always_eager:
        send_stream_batch.apply_async((batch_id,), countdown=wait)
    return batch.status


@shared_task(name="attribution.tasks.send_due_stream_batches", acks_late=True)
def send_due_stream_batches() -> int:
    """Stream batches whose retry is overdue (beat: every minute): one attempt each."""
    due = list(due_batches())
    for batch in due:
        send_batch(batch)
    return len(due)
