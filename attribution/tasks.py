"""Attribution in the background: thin tasks over attribution.services."""

from celery import shared_task

from attribution.models import Goal
from attribution.services import refresh_attribution


@shared_task(name="attribution.tasks.refresh_all_goals", acks_late=True)
def refresh_all_goals() -> list[int]:
    """A fresh run per goal (beat: daily). A profile whose consent was withdrawn is out
    of every run after the withdrawal."""
    return [refresh_attribution(goal).pk for goal in Goal.objects.all()]
