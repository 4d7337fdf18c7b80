"""The reads of the attribution app: journeys out of the stored touchpoints, the run a
report reads, and the reports over stored runs."""

from attribution.selectors.journeys import JourneySet, journeys_for_goal
from attribution.selectors.reports import credit_report, model_comparison
from attribution.selectors.runs import latest_run, reported_run

__all__ = [
    "JourneySet",
    "credit_report",
    "journeys_for_goal",
    "latest_run",
    "model_comparison",
    "reported_run",
]
