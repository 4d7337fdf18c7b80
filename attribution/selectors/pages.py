"""Reads for the Journeys page under /app/: the goals to pick from and the path reports
a run stored (never recomputed on a page view). The Segments pages' reads are in
attribution/segments/selectors.py."""

from __future__ import annotations

from typing import Any

from attribution.models import AttributionRun, Goal

# --- Journeys ---------------------------------------------------------------------------


def goal_choices() -> list[tuple[str, str]]:
    """Every conversion goal as (key, name), for the goal picker."""
    return list(Goal.objects.order_by("key").values_list("key", "name"))


def path_reports(run: AttributionRun) -> dict[str, Any]:
    """The path reports a run stored (what `/api/v1/attribution/reports/{paths,
    path-lengths, time-to-convert, assisted, funnel}` return), with empty ones for a run
    stored before a report existed."""
    summary = run.summary or {}
    return {
        "top_paths": summary.get("top_paths") or [],
        "path_lengths": summary.get("path_lengths") or {"distribution": {}, "mean": None},
        "time_to_convert": summary.get("time_to_convert")
        or {"median_days": None, "mean_days": None, "p90_days": None},
        "assisted": summary.get("assisted") or [],
        "funnel": summary.get("funnel") or [],
    }
