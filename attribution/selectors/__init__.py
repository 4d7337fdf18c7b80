"""The reads of the attribution app: journeys out of the stored touchpoints, and the
reports over stored runs."""

from attribution.selectors.journeys import JourneySet, journeys_for_goal
from attribution.selectors.reports import credit_report, latest_run, model_comparison

__all__ = ["JourneySet", "credit_report", "journeys_for_goal", "latest_run", "model_comparison"]
