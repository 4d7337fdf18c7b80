"""Attribution in the background: thin tasks over attribution.services."""

from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from attribution.models import Delivery, Goal
from attribution.services import refresh_attribution
from attribution.services.destinations import due_deliveries, send_delivery
from attribution.services.facts import refresh_facts
from attribution.services.segments import reevaluate_profiles, refresh_segments

# Where the sweep of changed profiles got to (a missing mark looks back one hour).
SWEEP_MARK = "attribution:segments:changed-since"


@shared_task(name="attribution.tasks.refresh_all_goals", acks_late=True)
def refresh_all_goals() -> list[int]:
    """A fresh run per goal (beat: daily). A profile whose consent was withdrawn is out
    of every run after the withdrawal."""
    return [refresh_attribution(goal).pk for goal in Goal.objects.all()]


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
    """After identity resolution placed a batch: its profiles' memberships anew."""
    from cdp.selectors import profiles_of_messages

    return reevaluate_profiles(profiles_of_messages(source_id, message_ids))


@shared_task(name="attribution.tasks.reevaluate_changed_profiles", acks_late=True)
def reevaluate_changed_profiles() -> dict:
    """Profiles changed since the last sweep by a merge, an unmerge, a consent change or
    a touchpoint resolved by the identity sweep (beat: every minute)."""
    from attribution.selectors.changes import profiles_changed_since

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
    from attribution.models import Segment
    from attribution.services.segments import refresh_segment

    return vars(refresh_segment(Segment.objects.get(pk=segment_id)))
