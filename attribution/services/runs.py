"""Attribution runs and costs: the writes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from attribution.engine import paths
from attribution.engine.comparison import position_credit
from attribution.engine.crosschannel import channel_pairs
from attribution.engine.journeys import DIRECT, channel_totals
from attribution.engine.models import MODELS
from attribution.engine.monthly import credited_by_month, month_index, month_span, touch_figures
from attribution.engine.performance import (
    credited_by_line,
    email_figures,
    line_figures,
    post_click,
    visits,
)
from attribution.errors import InvalidCost, UnknownGoal, UnknownModel
from attribution.models import AttributionRun, Cost, Credit, Goal
from attribution.selectors import JourneySet, journeys_for_goal
from attribution.selectors.monthly import identified_profiles
from attribution.selectors.performance import email_events
from attribution.selectors.reports import clv_report, funnel_report, holdout_report


def goal_by_key(key: str) -> Goal:
    try:
        return Goal.objects.get(key=key)
    except Goal.DoesNotExist:
        known = ", ".join(Goal.objects.values_list("key", flat=True))
        raise UnknownGoal(f"no goal {key!r} (known: {known})", field="goal") from None


def refresh_attribution(
    goal: Goal | str,
    *,
    models: list[str] | None = None,
    until: datetime | None = None,
    own_domains: list[str] | None = None,
) -> AttributionRun:
    """Build the goal's journeys from the stored touchpoints (consent-gated) and store
    what each model credits to each channel and campaign, as one run. UnknownGoal,
    UnknownModel name what is not known."""
    goal = goal if isinstance(goal, Goal) else goal_by_key(goal)
    names = _known_models(models)
    run = _started_run(goal, names, until=until, own_domains=own_domains)
    found = journeys_for_goal(
        event=goal.event,
        lookback=timedelta(days=goal.lookback_days),
        until=until,
        own_domains=own_domains,
        value_property=goal.value_property,
        count_repeat=goal.count_repeat,
    )
    touches = _touch_rows(found, goal=goal)
    months = month_span(touches["at"], found.ends)
    touched = _monthly_touches(touches, months)
    performance = _performance_touches(touches, months)
    del touches  # millions of rows at scale: not kept through the models
    credited = _credited(run, found, names, months=months, cost_by_channel=_cost_by_channel(until))
    performance["post_click"] = post_click(
        found.journeys, found.campaigns, month_index(found.ends, months), months
    )
    performance["credited"] = credited.lines
    performance["email"] = _email_figures(found.profile_ids, until=until)
    with transaction.atomic():
        Credit.objects.bulk_create(credited.credits, batch_size=2000)
        _complete(
            run,
            goal,
            found,
            credited,
            monthly={"months": months, **touched},
            performance=performance,
        )
    return run


def _known_models(models: list[str] | None) -> list[str]:
    names = list(models or MODELS)
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        raise UnknownModel(
            f"unknown {', '.join(unknown)} (known: {', '.join(MODELS)})", field="models"
        )
    return names


def _started_run(
    goal: Goal, names: list[str], *, until: datetime | None, own_domains: list[str] | None
) -> AttributionRun:
    """The run, recorded with what it is made of before anything is computed."""
    return AttributionRun.objects.create(
        goal=goal,
        models_run=names,
        parameters={
            "event": goal.event,
            "value_property": goal.value_property,
            "lookback_days": goal.lookback_days,
            "count_repeat": goal.count_repeat,
            "until": until.isoformat() if until else None,
            # What classified this run (the setting when none given): to classify one
            # customer's touches the same way later (the 360° page).
            "own_domains": own_domains
            if own_domains is not None
            else list(settings.OMNITRAIL_OWN_DOMAINS),
        },
    )


@dataclass
class _Credited:
    """What the models credited: Credit rows per channel and campaign, and per model the
    channel pairs, the revenue per conversion day and the credit per month."""

    credits: list[Credit] = field(default_factory=list)
    pairs: dict[str, list] = field(default_factory=dict)
    daily: dict[str, dict] = field(default_factory=dict)
    monthly: dict[str, dict] = field(default_factory=dict)
    positions: dict[str, list] = field(default_factory=dict)  # early / middle / late touches
    lines: dict[str, dict] = field(default_factory=dict)  # per channel, campaign and month


def _credited(
    run: AttributionRun,
    found: JourneySet,
    names: list[str],
    *,
    months: list[str],
    cost_by_channel: dict[str, float],
) -> _Credited:
    journeys = found.journeys
    campaigns, campaign_of_touch = np.unique(
        np.array(found.campaigns, dtype=object).astype(str), return_inverse=True
    )
    keys = journeys.touches.astype(np.int64) * len(campaigns) + campaign_of_touch
    size = len(journeys.channels) * len(campaigns)
    days = _conversion_days(found)
    journey_month = month_index(found.ends, months)
    credited = _Credited()
    for name in names:
        shares = MODELS[name](journeys)
        conversions, value = channel_totals(journeys, shares, groups=keys, size=size)
        credited.pairs[name] = channel_pairs(journeys, shares, cost_by_channel)[:PAIRS_KEPT]
        credited.daily[name] = _daily_revenue(journeys, shares, days)
        credited.monthly[name] = credited_by_month(journeys, shares, journey_month, months)
        credited.positions[name] = position_credit(journeys, shares)
        credited.lines[name] = credited_by_line(
            journeys, shares, found.campaigns, journey_month, months
        )
        for key in np.flatnonzero(conversions):
            channel, campaign = divmod(int(key), len(campaigns))
            credited.credits.append(
                Credit(
                    run=run,
                    model=name,
                    channel=journeys.channels[channel],
                    campaign=campaigns[campaign],
                    conversions=float(conversions[key]),
                    value=float(value[key]),
                )
            )
    return credited


def _complete(
    run: AttributionRun,
    goal: Goal,
    found: JourneySet,
    credited: _Credited,
    *,
    monthly: dict,
    performance: dict,
) -> None:
    """The run's totals and summary (the reports pages and the API read), and done."""
    journeys = found.journeys
    run.journeys = journeys.count
    run.conversions = int(journeys.converted.sum())
    run.value = Decimal(str(round(float(journeys.value.sum()), 2)))
    run.profiles_left_out_for_consent = found.profiles_left_out_for_consent
    run.summary = {
        "top_paths": paths.top_paths(journeys, limit=20),
        "path_lengths": paths.path_lengths(journeys),
        "time_to_convert": paths.time_to_convert(journeys),
        "assisted": paths.assisted_conversions(journeys),
        "conversions_without_touch": found.conversions_without_touch,
        "channel_pairs": credited.pairs,
        "path_positions": credited.positions,
        "daily_revenue": credited.daily,
        "monthly": {**monthly, "credited": credited.monthly},
        "performance": performance,
        "funnel": funnel_report(found.profile_ids),
        "clv_by_first_touch": clv_report(found.profile_ids),
        "holdouts": [
            holdout_report(holdout, found.profile_ids, run=run)
            for holdout in goal.holdouts.order_by("pk")
        ],
    }
    run.status = AttributionRun.Status.COMPLETED
    run.finished_at = timezone.now()
    run.save()


PAIRS_KEPT = 50


def _cost_by_channel(until: datetime | None) -> dict[str, float]:
    costs = Cost.objects.all()
    if until is not None:
        costs = costs.filter(date__lte=until.date())
    return {
        row["channel"]: float(row["spent"])
        for row in costs.values("channel").annotate(spent=Sum("cost"))
    }


def _touch_rows(found, *, goal: Goal) -> dict[str, Any]:
    """Who was touched when on which channel: the touch rows (views and marketing
    events) the journeys were cut from, taken over from `found` (which lets go of them)."""
    frame, found.touches = found.touches, None
    # A goal on a marketing event (an email click ...): its rows are conversions, not touches.
    conversion = np.asarray(frame["event"] == goal.event)
    touch = ~conversion
    channels = [str(name) for name in frame["channel"].cat.categories]
    channel = frame["channel"].cat.codes.to_numpy().astype(np.int64)
    at = frame["timestamp"].dt.tz_convert(None).to_numpy()
    start, engaged = visits(
        profile=frame["profile_id"].to_numpy(dtype=np.int64),
        at=at.astype("datetime64[ns]").astype(np.int64),
        conversion=conversion,
        channel=channel,
        direct=channels.index(DIRECT) if DIRECT in channels else -1,
    )
    return {
        "profile": frame["profile_id"].to_numpy(dtype=np.int64)[touch],
        "at": at[touch],
        "channel": channel[touch],
        "channels": channels,
        "campaign": frame["campaign"].cat.codes.to_numpy().astype(np.int64)[touch],
        "campaigns": [str(name) for name in frame["campaign"].cat.categories],
        "visit_start": start[touch],
        "engaged": engaged[touch],
    }


def _monthly_touches(touches: dict[str, Any], months: list[str]) -> dict:
    """Per channel and month, touchpoints and profiles touched (identified or not)."""
    profile = touches["profile"]
    identified = identified_profiles(np.unique(profile).tolist())
    return touch_figures(
        profile=profile,
        channel=touches["channel"],
        month=month_index(touches["at"], months),
        identified=np.isin(profile, np.fromiter(identified, dtype=np.int64)),
        channels=touches["channels"],
        months=months,
    )


def _performance_touches(touches: dict[str, Any], months: list[str]) -> dict:
    """Per channel, campaign and month: touchpoints, visits, engaged visits and reach."""
    campaigns = max(len(touches["campaigns"]), 1)
    key = touches["channel"] * campaigns + np.maximum(touches["campaign"], 0)
    used, line = np.unique(key, return_inverse=True)
    names = touches["campaigns"] or [""]
    lines = [(touches["channels"][k // campaigns], names[k % campaigns]) for k in used.tolist()]
    return line_figures(
        profile=touches["profile"],
        month=month_index(touches["at"], months),
        line=line,
        start=touches["visit_start"],
        engaged=touches["engaged"],
        lines=lines,
        months=months,
    )


def _email_figures(profile_ids: set[int], *, until: datetime | None) -> dict:
    """Per email campaign and month, the email events of the profiles analytics allows."""
    event, campaign, month = email_events(profile_ids, until=until)
    return email_figures(event=event, campaign=campaign, month=month)


def _conversion_days(found) -> np.ndarray:
    """Each journey's conversion day (UTC, as YYYY-MM-DD)."""
    return np.datetime_as_string(found.ends.astype("datetime64[D]"), unit="D")


def _daily_revenue(journeys, shares: np.ndarray, days: np.ndarray) -> dict[str, dict]:
    """Per channel, per conversion day: the revenue the model credited."""
    day_names, day_of_journey = np.unique(days, return_inverse=True)
    touch_day = day_of_journey[journeys.journey_of_touch()]
    keys = journeys.touches.astype(np.int64) * len(day_names) + touch_day
    _, value = channel_totals(
        journeys, shares, groups=keys, size=len(journeys.channels) * len(day_names)
    )
    table: dict[str, dict] = {}
    for key in np.flatnonzero(value):
        channel, day = divmod(int(key), len(day_names))
        table.setdefault(journeys.channels[channel], {})[str(day_names[day])] = round(
            float(value[key]), 2
        )
    return table


@dataclass
class CostImport:
    rows: int = 0
    stored: int = 0
    errors: list[str] = field(default_factory=list)


COST_COLUMNS = ("date", "channel", "cost")


def record_cost(row: dict[str, Any]) -> Cost:
    """Store one day's cost of a channel and campaign; the same line again replaces it.
    InvalidCost names the field at fault."""

    def text(name: str, limit: int = 255) -> str:
        return str(row.get(name) or "").strip()[:limit]

    try:
        day = row["date"] if isinstance(row.get("date"), date) else date.fromisoformat(text("date"))
    except ValueError:
        raise InvalidCost(f"{row.get('date')!r} is not YYYY-MM-DD", field="date") from None
    if not text("channel"):
        raise InvalidCost("required", field="channel")
    try:
        amount = Decimal(str(row.get("cost", "")).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise InvalidCost(f"{row.get('cost')!r} is not a number", field="cost")
    if amount < 0:
        raise InvalidCost("must not be negative", field="cost")
    counts = {}
    for name in ("impressions", "clicks"):
        raw = text(name)
        if raw and not raw.isdigit():
            raise InvalidCost(f"{raw!r} is not a whole number", field=name)
        counts[name] = int(raw) if raw else None
    cost, _ = Cost.objects.update_or_create(
        date=day,
        channel=text("channel", 50),
        campaign=text("campaign"),
        source=text("source"),
        medium=text("medium"),
        defaults={"cost": amount, "currency": (text("currency", 3) or "USD").upper(), **counts},
    )
    return cost


def import_costs(path: Path | io.TextIOBase) -> CostImport:
    """Daily costs from a CSV file (date, channel, cost; optionally campaign, source,
    medium, currency, impressions, clicks). Bad rows are reported with their line number;
    importing the same file again changes nothing."""
    summary = CostImport()
    stream = path.open(newline="", encoding="utf-8-sig") if isinstance(path, Path) else path
    with stream:
        reader = csv.DictReader(stream)
        missing = [c for c in COST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            summary.errors.append(f"line 1: missing column(s) {', '.join(missing)}")
            return summary
        for row in reader:
            summary.rows += 1
            try:
                with transaction.atomic():
                    record_cost(row)
            except InvalidCost as error:
                summary.errors.append(f"line {reader.line_num}: {error}")
                continue
            summary.stored += 1
    return summary
