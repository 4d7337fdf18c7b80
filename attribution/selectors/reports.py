"""Reads of stored attribution runs and the reports over profiles: credits with cost,
ROAS and CPA, models side by side, funnel, CLV, holdout lift, budget advice."""

from __future__ import annotations

import operator
from functools import reduce

import numpy as np
from django.db.models import Case, IntegerField, Max, Q, Sum, When
from django.utils import timezone

from attribution.engine.budget import advise
from attribution.engine.comparison import compare_models, return_on_spend
from attribution.engine.crosschannel import clv_by_first_touch, funnel
from attribution.engine.incrementality import holdout_mask, lift
from attribution.engine.models import DEFAULT_GUARDRAIL
from attribution.engine.paths import pareto
from attribution.errors import InvalidGuardrail, NoMonthlyFigures, NothingToAdvise
from attribution.models import AttributionRun, Cost, Credit, FunnelStage, Holdout, ProfileFacts
from attribution.selectors.runs import model_in_run
from cdp.errors import InvalidField
from cdp.models import Touchpoint


def credit_report(run, *, model: str, group_by: str = "channel") -> list[dict]:
    """Per channel (or channel and campaign): conversions and revenue the model credited
    in the run, what it cost (costs dated up to the run's end), ROAS (revenue / cost)
    and CPA (cost / conversions); ROAS and CPA are None where they do not exist."""
    return credit_reports(run, models=[model], group_by=group_by)[model]


def credit_reports(run, *, models: list[str], group_by: str = "channel") -> dict[str, list]:
    """credit_report for each of `models`, in two queries whatever their number."""
    if group_by not in ("channel", "campaign"):
        raise InvalidField("must be channel or campaign", field="group_by")
    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    credited = (
        Credit.objects.filter(run=run, model__in=models)
        .values("model", *keys)
        .annotate(conversions=Sum("conversions"), revenue=Sum("value"))
    )
    costs = Cost.objects.all()
    until = (run.parameters or {}).get("until")
    if until:
        costs = costs.filter(date__lte=until[:10])
    spent = {
        tuple(row[k] for k in keys): float(row["spent"])
        for row in costs.values(*keys).annotate(spent=Sum("cost"))
    }
    by_model: dict[str, list] = {model: [] for model in models}
    seen: dict[str, set] = {model: set() for model in models}
    for row in credited:
        key = tuple(row[k] for k in keys)
        seen[row["model"]].add(key)
        by_model[row["model"]].append(
            _report_row(row["model"], keys, key, row["conversions"], row["revenue"], spent.get(key))
        )
    for model, rows in by_model.items():
        for key, cost in spent.items():  # money spent where nothing was credited
            if key not in seen[model]:
                rows.append(_report_row(model, keys, key, 0.0, 0.0, cost))
        rows.sort(key=lambda r: (-r["revenue"], r["channel"], r.get("campaign", "")))
    return by_model


def _report_row(model, keys, key, conversions, revenue, cost) -> dict:
    row = {"model": model, **dict(zip(keys, key, strict=True))}
    row.update(
        conversions=round(conversions, 6),
        revenue=round(revenue, 2),
        cost=round(cost, 2) if cost is not None else 0.0,
        roas=round(revenue / cost, 4) if cost else None,
        cpa=round(cost / conversions, 2) if cost and conversions else None,
    )
    return row


def model_comparison(run, *, group_by: str = "channel") -> list[dict]:
    """Side by side: per channel (or campaign), the conversions and revenue each model
    in the run credits."""
    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    table: dict[tuple, dict] = {}
    rows = (
        Credit.objects.filter(run=run)
        .values(*keys, "model")
        .annotate(conversions=Sum("conversions"), revenue=Sum("value"))
    )
    for row in rows:
        key = tuple(row[k] for k in keys)
        entry = table.setdefault(key, dict(zip(keys, key, strict=True)))
        entry[row["model"]] = {
            "conversions": round(row["conversions"], 6),
            "revenue": round(row["revenue"], 2),
        }
    return sorted(
        table.values(),
        key=lambda e: -max((v["revenue"] for v in e.values() if isinstance(v, dict)), default=0),
    )


# --- Reports over profiles: funnel, CLV, holdouts, budget ------------------------------


def funnel_report(profile_ids) -> list[dict]:
    """Profiles (of `profile_ids`) reaching each funnel stage (the admin's FunnelStage
    events; "page" and "screen" stand for any view), with conversion and drop-off from
    the stage before. A profile that reached a later stage passed the earlier ones."""
    stages = list(FunnelStage.objects.order_by("position", "pk"))
    if not stages:
        return []
    whens = []
    for index, stage in enumerate(stages):
        names = [e for e in stage.events if e not in ("page", "screen")]
        kinds = [e for e in stage.events if e in ("page", "screen")]
        whens.append(When(Q(event__in=names) | Q(type__in=kinds), then=index))
    reached = (
        Touchpoint.objects.filter(profile__isnull=False)
        .values("profile_id")
        .annotate(stage=Max(Case(*whens, default=-1, output_field=IntegerField())))
        .values_list("profile_id", "stage")
    )
    wanted = set(profile_ids)
    highest = np.fromiter(
        (stage for pk, stage in reached.iterator(chunk_size=50_000) if pk in wanted),
        dtype=np.int64,
    )
    return funnel(highest, [stage.name for stage in stages])


def clv_report(profile_ids) -> list[dict]:
    """Customer lifetime value by first-touch channel, from the profile facts."""
    wanted = set(profile_ids)
    rows = [
        row
        for row in ProfileFacts.objects.values_list(
            "profile_id", "first_touch_channel", "clv", "order_count"
        ).iterator(chunk_size=50_000)
        if row[0] in wanted and row[1]
    ]
    if not rows:
        return []
    _, channels, clv, orders = zip(*rows, strict=True)
    return clv_by_first_touch(
        np.array(channels, dtype=object),
        np.array(clv, dtype=np.float64),
        np.array(orders, dtype=np.float64),
    )


def held_out(profile_ids, *, channel: str = "", campaign: str = "", at=None) -> set[int]:
    """Those of `profile_ids` an experiment running at `at` holds out of `channel` (or
    `campaign`): they must not be sent there."""
    at = at or timezone.now()
    ids = np.fromiter(profile_ids, dtype=np.int64)
    lines = [
        Q(scope=scope, value=value)
        for scope, value in (("channel", channel), ("campaign", campaign))
        if value
    ]
    if not lines:
        return set()
    running = Holdout.objects.filter(started_at__lte=at).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=at)
    )
    any_line = reduce(operator.or_, lines)
    out = np.zeros(len(ids), dtype=bool)
    for holdout in running.filter(any_line):
        out |= holdout_mask(ids, holdout.key, holdout.percent)
    return set(ids[out].tolist())


def holdout_report(holdout, profile_ids, *, run=None) -> dict:
    """Lift of the exposed over the held-out profiles (of `profile_ids`, those with a
    touchpoint during the experiment): conversion rates, difference and relative lift
    with confidence intervals, incremental conversions; beside it what the latest run's
    Markov model credits to the line, so data-driven credit can be checked."""
    end = holdout.ended_at or timezone.now()
    during = Touchpoint.objects.filter(
        profile__isnull=False, timestamp__gte=holdout.started_at, timestamp__lt=end
    )
    wanted = set(profile_ids)
    active = {p for p in during.values_list("profile_id", flat=True).distinct() if p in wanted}
    converted = {
        p
        for p in during.filter(event=holdout.goal.event).values_list("profile_id", flat=True)
        if p in active
    }
    ids = np.array(sorted(active), dtype=np.int64)
    held = holdout_mask(ids, holdout.key, holdout.percent)
    bought = np.isin(ids, np.array(sorted(converted), dtype=np.int64))
    row = {
        "holdout": holdout.key,
        "percent": holdout.percent,
        "goal": holdout.goal.key,
        "started_at": holdout.started_at.isoformat(),
        "ended_at": holdout.ended_at.isoformat() if holdout.ended_at else None,
        "exposed_profiles": int((~held).sum()),
        "holdout_profiles": int(held.sum()),
        "exposed_conversions": int((bought & ~held).sum()),
        "holdout_conversions": int((bought & held).sum()),
    }
    try:
        row |= lift(
            row["exposed_conversions"],
            row["exposed_profiles"],
            row["holdout_conversions"],
            row["holdout_profiles"],
        )
    except ValueError as error:  # no one held out yet, or no one exposed
        row["error"] = str(error)
    if run is not None:
        line = Q(channel=holdout.value) if holdout.scope == "channel" else Q(campaign=holdout.value)
        credited = Credit.objects.filter(run=run, model="markov").filter(line)
        row["markov_credited_conversions"] = round(
            credited.aggregate(n=Sum("conversions"))["n"] or 0.0, 2
        )
    return row


def parse_guardrail(text: str) -> float:
    """A guardrail as a filter gives it ("0.06"; "" for the default); InvalidGuardrail
    when it is not a share from 0 to 1."""
    text = text.strip()
    if not text:
        return DEFAULT_GUARDRAIL
    try:
        return _guardrail(float(text))
    except (ValueError, InvalidGuardrail):
        raise InvalidGuardrail(
            f"{text!r} is not a share from 0 to 1 (0.06: six points)", field="guardrail"
        ) from None


def _guardrail(guardrail: float) -> float:
    if not 0 <= guardrail <= 1:
        raise InvalidGuardrail(
            f"{guardrail!r} is not a share from 0 to 1 (0.06: six points)", field="guardrail"
        )
    return guardrail


def budget_report(
    run, *, model: str = "markov", guardrail: float = DEFAULT_GUARDRAIL
) -> list[dict]:
    """Next period's budget moved toward the channels with the higher marginal ROAS,
    no channel's share moving more than `guardrail`: from the daily costs and the
    daily revenue `model` credited in the run. InvalidGuardrail for a guardrail that is
    not a share; NothingToAdvise when costs are recorded but none is above zero."""
    _guardrail(guardrail)
    daily = (run.summary or {}).get("daily_revenue", {}).get(model, {})
    costs = Cost.objects.all()
    until = (run.parameters or {}).get("until")
    if until:
        costs = costs.filter(date__lte=until[:10])
    spent = list(costs.values("date", "channel").annotate(spent=Sum("cost")))
    if not spent:
        return []
    days = sorted({row["date"].isoformat() for row in spent})
    channels = sorted({row["channel"] for row in spent})
    at = {d: i for i, d in enumerate(days)}
    spend = np.zeros((len(days), len(channels)))
    revenue = np.zeros_like(spend)
    for row in spent:
        spend[at[row["date"].isoformat()], channels.index(row["channel"])] = float(row["spent"])
    for j, channel in enumerate(channels):
        for day, value in daily.get(channel, {}).items():
            if day in at:
                revenue[at[day], j] = value
    if spend.sum() <= 0:
        raise NothingToAdvise("spend has no spend in any channel: nothing to advise on")
    return advise(channels, spend, revenue, guardrail=guardrail)


def revenue_pareto(run: AttributionRun, *, model: str, group_by: str = "channel") -> dict:
    """Which channels (or campaigns) bring 80% of the revenue `model` credited in the run:
    the API's `reports/pareto`, over the run's stored credits."""
    rows = credit_report(run, model=model, group_by=group_by)
    return pareto([row for row in rows if row["revenue"] > 0], key="revenue")


# --- Return on spend, two models compared, early / middle / late touches ---------------


def return_on_spend_report(run: AttributionRun, *, model: str) -> dict:
    """Paid ROAS (revenue `model` credits to the channels with cost / their cost) and
    blended MER (all revenue credited / all cost) of the run, costs dated up to its end."""
    model_in_run(run, model, field="model")
    return _return_on_spend(model, credit_report(run, model=model))


def return_on_spend_by_model(run: AttributionRun) -> list[dict]:
    """return_on_spend_report for every model of the run, in two queries."""
    reports = credit_reports(run, models=list(run.models_run))
    return [_return_on_spend(model, rows) for model, rows in reports.items()]


def _return_on_spend(model: str, rows: list[dict]) -> dict:
    return {
        "model": model,
        **return_on_spend(
            {row["channel"]: row["revenue"] for row in rows},
            {row["channel"]: row["cost"] for row in rows},
        ),
    }


def compare_report(
    run: AttributionRun, *, model: str, compare: str, group_by: str = "channel"
) -> dict:
    """GA4's model comparison: per channel (or campaign) the conversions, revenue and
    ROAS under `model` and under `compare`, and the % change from the first to the
    second; with each model's paid ROAS and blended MER."""
    model_in_run(run, model, field="model")
    model_in_run(run, compare, field="compare")
    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    lines = credit_reports(run, models=[model, compare], group_by=group_by)
    by_channel = (
        lines
        if group_by == "channel"
        else credit_reports(run, models=[model, compare], group_by="channel")
    )
    return {
        "model": model,
        "compare": compare,
        "group_by": group_by,
        "rows": compare_models(lines[model], lines[compare], keys=keys),
        "return_on_spend": {
            "first": _return_on_spend(model, by_channel[model]),
            "second": _return_on_spend(compare, by_channel[compare]),
        },
    }


def path_positions_report(run: AttributionRun, *, model: str) -> list[dict]:
    """Per channel, what `model` credits to its early, middle and late touches of the
    conversion paths (GA4's split: first 25%, middle 50%, last 25% of each path's
    touches), as the run stored it. NoMonthlyFigures for a run made before runs kept it."""
    model_in_run(run, model, field="model")
    kept = (run.summary or {}).get("path_positions")
    if kept is None:
        raise NoMonthlyFigures(
            f"run {run.pk} was made before runs kept early, middle and late touches: "
            "refresh attribution",
            field="goal",
        )
    return kept.get(model, [])
