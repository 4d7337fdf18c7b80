"""Consent in the background: thin tasks over consent.services."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from cdp.models import Touchpoint
from consent.services import record_touchpoint_consents

# How far back the sweep looks for consent carried by touchpoints resolved meanwhile.
SWEEP_WINDOW = timedelta(hours=2)


@shared_task(name="consent.tasks.record_consents_of_touchpoints", acks_late=True)
def record_consents_of_touchpoints(source_id: int, message_ids: list[str]) -> int:
    """After identity resolution placed a batch: what its events said about consent."""
    ids = list(
        Touchpoint.objects.filter(source_id=source_id, message_id__in=message_ids)
        .filter(context__has_key="consent")
        .values_list("pk", flat=True)
    )
    return record_touchpoint_consents(ids) if ids else 0


@shared_task(name="consent.tasks.sweep_touchpoint_consents", acks_late=True)
def sweep_touchpoint_consents() -> int:
    """Consent of touchpoints resolved by the identity sweep (their batch's hand-off to
    the broker failed). Idempotent: a touchpoint states each purpose once."""
    ids = list(
        Touchpoint.objects.filter(
            resolved_at__gte=timezone.now() - SWEEP_WINDOW, context__has_key="consent"
        ).values_list("pk", flat=True)
    )
    return record_touchpoint_consents(ids) if ids else 0


@shared_task(name="consent.tasks.process_data_subject_request", acks_late=True)
def process_data_subject_request(request_id: int) -> str:
    from consent.privacy import process_request

    return process_request(request_id).status
