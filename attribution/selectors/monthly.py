"""Reads for the monthly cross-channel report (the overview page, `reports/monthly`):
the figures the last run kept, the costs of the months asked, and which profiles are
identified. Nothing here reads touchpoints: a page asks for a range of months and gets
it from the run's summary plus the (small) cost table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from attribution.engine.models import DEFAULT_MODEL
from attribution.engine.monthly import month_after, month_before, parse_month, range_report
from attribution.errors import NoMonthlyFigures
from attribution.models import AttributionRun, Cost
from attribution.selectors.runs import model_in_run
from cdp.errors import InvalidField
from identity.selectors import identifiers_by_profile

# Identifier kinds that follow a browser or a device, not a person: a profile holding
# only these is anonymous; one more kind (user id, email, phone, CRM or loyalty id ...)
# makes it identified.
ANONYMOUS_KINDS = frozenset({"anonymous_id", "device_id"})


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
    model: str = DEFAULT_MODEL,
    start: str | None = None,
    end: str | None = None,
) -> dict:
    """The monthly cross-channel report of months start..end (YYYY-MM or a date in the
    month; default: every month the run covers) as `model` credits them (see
    attribution.engine.monthly.range_report), with the run's coverage and the profiles
    it left out for consent. A run read without its summary (`latest_run(...,
    summary=False)`) has only its months read. InvalidField (UnknownModel) names the
    filter at fault; NoMonthlyFigures when the run kept none."""
    if "summary" in run.get_deferred_fields():
        monthly, reconciliation = (
            AttributionRun.objects.filter(pk=run.pk)
            .values_list("summary__monthly", "summary__reconciliation")
            .first()
        ) or (None, None)
    else:
        monthly = (run.summary or {}).get("monthly")
        reconciliation = (run.summary or {}).get("reconciliation")
    if monthly is None:
        raise NoMonthlyFigures(
            f"run {run.pk} was made before runs kept monthly figures: refresh attribution",
            field="goal",
        )
    model_in_run(run, model, field="model")
    months = monthly.get("months", [])
    start = _month("start", start) if start else (months[0] if months else None)
    end = _month("end", end) if end else (months[-1] if months else start)
    covers = {"start": months[0] if months else None, "end": months[-1] if months else None}
    about = {
        "run": run.pk,
        "goal": run.goal.key,
        "covers": covers,
        "profiles_left_out_for_consent": run.profiles_left_out_for_consent,
        # Over the whole run: the stored conversions = reported + left out (see
        # attribution.selectors.reconcile); None for a run made before runs kept it.
        "reconciliation": reconciliation,
    }
    if start is None or end is None:  # the run saw no touch at all (end is None only then)
        return {**about, **range_report({}, model=model, start=None, end=None, costs={})}
    if end < start:
        raise InvalidField(f"{end} is before start {start}", field="end")
    costs = monthly_costs(month_before(start), end, until=(run.parameters or {}).get("until"))
    return {
        **about,
        **range_report(monthly, model=model, start=start, end=end, costs=costs),
    }


def _month(field: str, text: str) -> str:
    try:
        return parse_month(text)
    except ValueError as error:  # the engine's own words: what the text is not
        raise InvalidField(str(error), field=field) from None
