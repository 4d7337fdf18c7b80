"""The Tracking plans pages: every plan with its sources and what broke it lately; one
plan's violations (new ones first, with a sample each), per day by kind, and its
planned events. Figures are the stored daily counts (PlanViolationCount), never a scan
of the touchpoints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from plotly import graph_objects as go

from cdp.pages import (
    VIEW_PERSONAL_DATA,
    Chart,
    Link,
    Table,
    page_permission,
    render_page,
    when,
)
from cdp.tracking_plans.engine.document import KIND_WORDS, KINDS
from cdp.tracking_plans.models import TrackingPlan
from cdp.tracking_plans.selectors import (
    plan_document,
    plans_overview,
    violations,
    violations_by_day,
)

VIEW_TRACKING_PLANS = "cdp.view_trackingplan"


class PlanFilters(forms.Form):
    days = forms.IntegerField(label="Days", min_value=1, max_value=366)


def _filters(request: HttpRequest) -> tuple[PlanFilters, int]:
    form = PlanFilters({"days": request.GET.get("days") or 30})
    return form, form.cleaned_data["days"] if form.is_valid() else 30


@page_permission(VIEW_TRACKING_PLANS)
def plan_list(request: HttpRequest) -> HttpResponse:
    form, days = _filters(request)
    rows: list[Sequence[Any]] = [
        [
            Link(entry["plan"].name, f"/app/tracking-plans/{entry['plan'].pk}/"),
            ", ".join(entry["sources"]) or "—",
            entry["events"],
            entry["violations"],
            entry["new"],
            when(entry["plan"].updated_at),
        ]
        for entry in plans_overview(days=days)
    ]
    table = Table(
        "plans",
        f"Tracking plans (violations in the last {days} days)",
        ["Plan", "Sources", "Planned events", "Violations", "New kinds", "Changed"],
        rows,
        numeric={"Planned events", "Violations", "New kinds"},
    )
    return render_page(
        request,
        "app/tracking_plans.html",
        {"form": form, "days": days},
        title="Tracking plans",
        tables=[table],
        invalid=not form.is_valid(),
    )


@page_permission(VIEW_TRACKING_PLANS)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TrackingPlan, pk=pk)
    form, days = _filters(request)
    document = plan_document(plan)
    found = violations(plan, days=days)
    # A sample value may be personal data (an email sent as a property).
    personal_data = request.user.has_perm(VIEW_PERSONAL_DATA)
    daily = violations_by_day(plan, days=days)
    tables = [
        Table(
            "violations",
            f"Violations in the last {days} days (new first)",
            [
                "New",
                "Source",
                "Event",
                "Property",
                "Kind",
                "Count",
                "Done",
                "First seen",
                "Last seen",
                "Sample value",
                "Why",
            ],
            [
                [
                    "new" if row["new"] else "",
                    row["source"],
                    f"{row['event_type']} {row['event_name']}".strip(),
                    row["property"],
                    KIND_WORDS[row["kind"]],
                    row["count"],
                    ", ".join(f"{action} {n}" for action, n in row["actions"].items()),
                    when(row["first_seen_at"]),
                    when(row["last_seen_at"]),
                    row["sample"].get("value", "") if personal_data else "(hidden)",
                    row["sample"].get("message", ""),
                ]
                for row in found
            ],
            numeric={"Count"},
        ),
        Table(
            "events",
            "Planned events",
            ["Type", "Name", "Properties", "Required", "Description"],
            [
                [
                    event["type"],
                    event["name"],
                    ", ".join((event["properties"] or {}).get("properties") or {}) or "any",
                    ", ".join((event["properties"] or {}).get("required") or []) or "—",
                    event["description"],
                ]
                for event in document["events"]
            ],
        ),
    ]
    context = {
        "plan": plan,
        "document": document,
        "form": form,
        "days": days,
        "total": sum(row["count"] for row in found),
        "new": sum(1 for row in found if row["new"]),
    }
    return render_page(
        request,
        "app/tracking_plan.html",
        context,
        title=f"Tracking plan: {plan.name}",
        tables=tables,
        charts=[_daily_chart(daily, days)] if daily else [],
        invalid=not form.is_valid(),
    )


def _daily_chart(daily: list[dict], days: int) -> Chart:
    figure = go.Figure(
        [
            go.Bar(
                name=KIND_WORDS[kind],
                x=[str(row["day"]) for row in daily if row["kind"] == kind],
                y=[row["count"] for row in daily if row["kind"] == kind],
            )
            for kind in KINDS
            if any(row["kind"] == kind for row in daily)
        ]
    )
    figure.update_layout(barmode="stack", xaxis_title="Day (UTC)", yaxis_title="Violations")
    return Chart("daily", figure, f"Violations per day by kind, last {days} days.")
