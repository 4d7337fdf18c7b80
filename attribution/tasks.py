"""Attribution in the background: thin tasks over attribution.services."""

from celery import shared_task

from attribution.models import Goal

# The segment, facts and webhook tasks are in attribution/segments/tasks.py, registered
# under their names of old ("attribution.tasks.<function>"). Celery's autodiscovery
# imports `attribution.tasks` only: importing them here registers them with the worker
# (and keeps `from attribution.tasks import ...` working for the callers that send them).
from attribution.segments.tasks import (
    deliver_webhook,
    reevaluate_changed_profiles,
    reevaluate_touchpoint_profiles,
    refresh_all_facts,
    refresh_due_segments,
    refresh_one_segment,
    send_due_deliveries,
)
from attribution.services import refresh_attribution

__all__ = [
    "deliver_webhook",
    "reevaluate_changed_profiles",
    "reevaluate_touchpoint_profiles",
    "refresh_all_facts",
    "refresh_all_goals",
    "refresh_due_segments",
    "refresh_one_segment",
    "send_due_deliveries",
]


@shared_task(name="attribution.tasks.refresh_all_goals", acks_late=True)
def refresh_all_goals() -> list[int]:
    """A fresh run per goal (beat: daily). A profile whose consent was withdrawn is out
    of every run after the withdrawal."""
    return [refresh_attribution(goal).pk for goal in Goal.objects.all()]
