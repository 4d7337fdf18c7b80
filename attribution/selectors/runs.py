"""Which attribution run a report reads: the goal's newest completed one. Every report
(the API, the pages, the export command) finds its run here."""

from __future__ import annotations

from attribution.errors import NoCompletedRun, UnknownModel
from attribution.models import AttributionRun, Goal


def latest_run(goal_key: str, *, summary: bool = True) -> AttributionRun | None:
    """The goal's newest completed attribution run, or None. `summary=False` leaves its
    summary unread (path reports, daily revenue per model and channel ...: megabytes
    after a long run) for a page that reads only part of it on its own."""
    runs = AttributionRun.objects.filter(
        goal__key=goal_key, status=AttributionRun.Status.COMPLETED
    ).select_related("goal")
    if not summary:
        runs = runs.defer("summary")
    return runs.order_by("-finished_at").first()


def reported_run(goal_key: str, *, summary: bool = True) -> AttributionRun:
    """The run a report on the goal reads (as `latest_run`); NoCompletedRun, naming the
    goal, when there is none yet."""
    run = latest_run(goal_key, summary=summary)
    if run is None:
        raise NoCompletedRun(
            f"no completed attribution run for {goal_key!r} yet (run refresh_attribution)",
            field="goal",
        )
    return run


def goals_with_runs() -> list[Goal]:
    """The goals that have a completed attribution run (what the report pages offer)."""
    return list(
        Goal.objects.filter(runs__status=AttributionRun.Status.COMPLETED).distinct().order_by("key")
    )


def model_in_run(run: AttributionRun, model: str, *, field: str) -> None:
    """UnknownModel, naming `field` and the run's models, unless the run computed `model`."""
    if model not in run.models_run:
        raise UnknownModel(
            f"{model!r} is not in run {run.pk} (its models: {', '.join(run.models_run)})",
            field=field,
        )
