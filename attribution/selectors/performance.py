"""Reads for the channel performance report (`reports/channel-performance`, the overview's
PPC, email, social and search sections): the email events a run counts, and the figures
the last run kept with the costs, impressions and clicks of the months asked."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from attribution.engine.models import DEFAULT_MODEL
from attribution.engine.monthly import month_after
from attribution.engine.performance import EMAIL_EVENTS, performance_report
from attribution.errors import NoMonthlyFigures
from attribution.models import AttributionRun, Cost
from attribution.selectors.monthly import _month
from attribution.selectors.runs import model_in_run
from cdp.errors import InvalidField
from cdp.models import Touchpoint


def email_events(
    profile_ids: set[int], *, until: datetime | None = None
) -> tuple[list[str], list[str], list[str]]:
    """The email events (Segment's: Email Delivered, Opened, Link Clicked, Unsubscribed,
    Email Bounced) of `profile_ids`: each one's event, campaign (`campaign_name`, else
    the UTM campaign; "" when neither) and month (YYYY-MM, UTC)."""
    rows = Touchpoint.objects.filter(event__in=list(EMAIL_EVENTS), profile__isnull=False)
    if until is not None:
        rows = rows.filter(timestamp__lte=until)
    events: list[str] = []
    campaigns: list[str] = []
    months: list[str] = []
    for profile, event, named, utm, at in rows.values_list(
        "profile_id", "event", "properties__campaign_name", "utm_campaign", "timestamp"
    ).iterator(chunk_size=20_000):
        if profile not in profile_ids:
            continue
        events.append(event)
        campaigns.append(str(named) if named else (utm or ""))
        months.append(at.strftime("%Y-%m"))
    return events, campaigns, months


def line_costs(start: str, end: str, *, until: str | None = None) -> dict[tuple, dict]:
    """Per (channel, campaign, month) of months start..end: cost, impressions, clicks."""
    first = date.fromisoformat(f"{start}-01")
    after = date.fromisoformat(f"{month_after(end)}-01")
    costs = Cost.objects.filter(date__gte=first, date__lt=after)
    if until:
        costs = costs.filter(date__lte=until[:10])
    rows = (
        costs.annotate(month=TruncMonth("date"))
        .values("channel", "campaign", "month")
        .annotate(spent=Sum("cost"), impressions=Sum("impressions"), clicks=Sum("clicks"))
        .order_by()
    )
    return {
        (row["channel"], row["campaign"], row["month"].strftime("%Y-%m")): {
            "cost": float(row["spent"]),
            "impressions": row["impressions"] or 0,
            "clicks": row["clicks"] or 0,
        }
        for row in rows
    }


def channel_performance(
    run: AttributionRun,
    *,
    model: str = DEFAULT_MODEL,
    start: str | None = None,
    end: str | None = None,
) -> dict:
    """Channel performance of months start..end (default: every month the run covers)
    as `model` credits it (attribution.engine.performance.performance_report), with the
    run and what consent left out. InvalidField names the filter at fault;
    NoMonthlyFigures when the run kept no performance figures."""
    kept = (
        AttributionRun.objects.filter(pk=run.pk)
        .values_list("summary__performance", "summary__monthly__months", "summary__monthly__reach")
        .first()
    )
    performance, months, reach = kept or (None, None, None)
    if performance is None:
        raise NoMonthlyFigures(
            f"run {run.pk} was made before runs kept channel performance: refresh attribution",
            field="goal",
        )
    model_in_run(run, model, field="model")
    months = months or []
    start = _month("start", start) if start else (months[0] if months else None)
    end = _month("end", end) if end else (months[-1] if months else start)
    about = {"run": run.pk, "goal": run.goal.key}
    if start is None or end is None:
        empty: dict[str, Any] = {"campaigns": [], "by_month": [], "total": None}
        return {
            **about,
            "model": model,
            "start": None,
            "end": None,
            "months": [],
            "by_channel": [],
            "by_campaign": [],
            "by_month": [],
            "email": empty,
            "sections": {"ppc": [], "email": [], "social": [], "search": []},
        }
    if end < start:
        raise InvalidField(f"{end} is before start {start}", field="end")
    return {
        **about,
        **performance_report(
            performance,
            model=model,
            start=start,
            end=end,
            costs=line_costs(start, end, until=(run.parameters or {}).get("until")),
            channel_reach=(reach or {}).get("channels", {}),
        ),
    }
