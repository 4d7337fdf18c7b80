"""Reads for the monthly cross-channel report (the overview page, `reports/monthly`):
the figures the last run kept, the costs of the months asked, and which profiles are
identified. Nothing here reads touchpoints: a page asks for a range of months and gets
it from the run's summary plus the (small) cost table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from attribution.engine.monthly import month_after, month_before, parse_month, range_report
from attribution.models import AttributionRun, Cost, Goal
from identity.selectors import identifiers_by_profile

# Identifier kinds that follow a browser or a device, not a person: a profile holding
# only these is anonymous; one more kind (user id, email, phone, CRM or loyalty id ...)
# makes it identified.
ANONYMOUS_KINDS = frozenset({"anonymous_id", "device_id"})


class NoMonthlyFigures(LookupError):
    """The run was made before runs kept monthly figures."""


def goals_with_runs() -> list[Goal]:
    """The goals that have a completed attribution run (what the report pages offer)."""
    return list(
        Goal.objects.filter(runs__status=AttributionRun.Status.COMPLETED).distinct().order_by("key")
    )


def latest_run_heading(goal_key: str) -> AttributionRun | None:
    """The goal's newest completed run, as `latest_run`, but without its summary (path
    reports, daily revenue per model and channel ...: megabytes after a long run); what
    a page shows of it is read on its own (`monthly_report` reads only its months)."""
    return (
        AttributionRun.objects.filter(goal__key=goal_key, status=AttributionRun.Status.COMPLETED)
        .select_related("goal")
        .defer("summary")
        .order_by("-finished_at")
        .first()
    )


def identified_profiles(profile_ids: Iterable[int]) -> set[int]:
    """Those of `profile_ids` that hold an identifier naming a person."""
    return {
        pk for kind, _, pk in identifiers_by_profile(profile_ids) if kind not in ANONYMOUS_KINDS
    }


def monthly_costs(start: str, end: str, *, until: str | None = None) -> dict[tuple, float]:
    """What each channel cost in each month start..end (YYYY-MM), costs dated up to
    `until` (an ISO date or datetime) when given."""
    first = date.fromisoformat(f"{start}-01")
    after = date.fromisoformat(f"{month_after(end)}-01")
    costs = Cost.objects.filter(date__gte=first, date__lt=after)
    if until:
        costs = costs.filter(date__lte=until[:10])
    rows = (
        costs.annotate(month=TruncMonth("date"))
        .values("channel", "month")
        .annotate(spent=Sum("cost"))
        .order_by()
    )
    return {(row["channel"], row["month"].strftime("%Y-%m")): float(row["spent"]) for row in rows}


def monthly_report(
    run: AttributionRun,
    *,
    model: str = "linear",
    start: str | None = None,
    end: str | None = None,
) -> dict:
    """The monthly cross-channel report of months start..end (YYYY-MM or a date in the
    month; default: every month the run covers) as `model` credits them (see
    attribution.engine.monthly.range_report), with the run's coverage and the profiles
    it left out for consent. ValueError names the field at fault; NoMonthlyFigures
    when the run kept none."""
    if "summary" in run.get_deferred_fields():
        monthly = (
            AttributionRun.objects.filter(pk=run.pk)
            .values_list("summary__monthly", flat=True)
            .first()
        )
    else:
        monthly = (run.summary or {}).get("monthly")
    if monthly is None:
        raise NoMonthlyFigures(
            f"run {run.pk} was made before runs kept monthly figures: refresh attribution"
        )
    if model not in run.models_run:
        raise ValueError(
            f"model: {model!r} is not in run {run.pk} (its models: {', '.join(run.models_run)})"
        )
    months = monthly.get("months", [])
    start = _month("start", start) if start else (months[0] if months else None)
    end = _month("end", end) if end else (months[-1] if months else start)
    covers = {"start": months[0] if months else None, "end": months[-1] if months else None}
    about = {
        "run": run.pk,
        "goal": run.goal.key,
        "covers": covers,
        "profiles_left_out_for_consent": run.profiles_left_out_for_consent,
    }
    if start is None:  # the run saw no touch at all
        return {**about, **range_report({}, model=model, start=None, end=None, costs={})}
    if end < start:
        raise ValueError(f"end: {end} is before start {start}")
    costs = monthly_costs(month_before(start), end, until=(run.parameters or {}).get("until"))
    return {
        **about,
        **range_report(monthly, model=model, start=start, end=end, costs=costs),
    }


def _month(field: str, text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None
