"""cdp's Celery tasks: thin wrappers over its services."""

from celery import shared_task

from cdp.services import handoff


@shared_task(acks_late=True)
def drain_handoffs() -> int:
    """Start the work after ingestion for every batch waiting in the hand-off list."""
    return handoff.drain()
