"""The reads of tracking plans: a plan as its file, the plans at a glance, the
violations found (per event, property and kind, with samples and what is new), and the
events a source sent, for inference."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Min, Sum
from django.utils import timezone

from cdp.models import Source, Touchpoint
from cdp.tracking_plans.engine.document import FORMAT
from cdp.tracking_plans.engine.inference import Observation
from cdp.tracking_plans.models import PlanViolationCount, TrackingPlan


def plan_document(plan: TrackingPlan) -> dict[str, Any]:
    """The plan as its file (engine.document's canonical form): what export writes."""
    rules = plan.rules or {}
    return {
        "format": FORMAT,
        "name": plan.name,
        "description": plan.description,
        "sources": plan_sources(plan),
        "modes": plan.modes,
        "context": rules.get("context"),
        "identify_traits": rules.get("identify_traits"),
        "group_traits": rules.get("group_traits"),
        "events": rules.get("events", []),
    }


def plan_sources(plan: TrackingPlan) -> list[str]:
    if plan.pk is None:
        return []
    return list(plan.source_links.order_by("source__name").values_list("source__name", flat=True))


def plan_by_name(name: str) -> TrackingPlan | None:
    return TrackingPlan.objects.filter(name=name).first()


def since_days(days: int, *, today: date | None = None) -> date:
    """The first day of the last `days` days, today (UTC) included."""
    return (today or timezone.now().date()) - timedelta(days=days - 1)


def is_new(first_seen_at: datetime, *, now: datetime | None = None) -> bool:
    """A violation first seen within OMNITRAIL_TRACKING_PLAN_NEW_DAYS is shown as new."""
    now = now or timezone.now()
    return first_seen_at >= now - timedelta(days=settings.OMNITRAIL_TRACKING_PLAN_NEW_DAYS)


def violations(
    plan: TrackingPlan,
    *,
    days: int = 30,
    source: Source | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """The plan's violations of the last `days` days, one row per source, event,
    property and kind (the actions taken summed apart), most frequent first, with
    the latest sample and whether the row is new: first seen (ever, not only in the
    window) within OMNITRAIL_TRACKING_PLAN_NEW_DAYS."""
    keys = ("source__name", "event_type", "event_name", "property", "kind")
    rows = PlanViolationCount.objects.filter(plan=plan)
    if source is not None:
        rows = rows.filter(source=source)
    if kind:
        rows = rows.filter(kind=kind)
    window = rows.filter(day__gte=since_days(days))
    totals = {
        tuple(row[k] for k in keys): row
        for row in window.values(*keys).annotate(
            count=Sum("count"), last_seen_at=Max("last_seen_at")
        )
    }
    if not totals:
        return []
    first_seen = {
        tuple(row[k] for k in keys): row["first"]
        for row in rows.values(*keys).annotate(first=Min("first_seen_at"))
    }
    by_action: dict[tuple, dict[str, int]] = {}
    samples: dict[tuple, tuple[datetime, dict]] = {}
    for row in window.values(*keys, "action", "count", "last_seen_at", "sample"):
        key = tuple(row[k] for k in keys)
        actions = by_action.setdefault(key, {})
        actions[row["action"]] = actions.get(row["action"], 0) + row["count"]
        if key not in samples or row["last_seen_at"] > samples[key][0]:
            samples[key] = (row["last_seen_at"], row["sample"])
    now = timezone.now()
    found = [
        {
            "source": key[0],
            "event_type": key[1],
            "event_name": key[2],
            "property": key[3],
            "kind": key[4],
            "count": total["count"],
            "actions": dict(sorted(by_action[key].items())),
            "first_seen_at": first_seen[key],
            "last_seen_at": total["last_seen_at"],
            "new": is_new(first_seen[key], now=now),
            "sample": samples[key][1],
        }
        for key, total in totals.items()
    ]
    found.sort(key=lambda row: (not row["new"], -row["count"], row["event_name"], row["property"]))
    return found


def violations_by_day(plan: TrackingPlan, *, days: int = 30) -> list[dict[str, Any]]:
    """Events' violations per day and kind over the last `days` days."""
    return [
        dict(row)
        for row in PlanViolationCount.objects.filter(plan=plan, day__gte=since_days(days))
        .values("day", "kind")
        .annotate(count=Sum("count"))
        .order_by("day", "kind")
    ]


def plans_overview(*, days: int = 30) -> list[dict[str, Any]]:
    """Every plan with its sources, planned events, and violations in the last `days`."""
    since = since_days(days)
    counted = {
        row["plan"]: row["count"]
        for row in PlanViolationCount.objects.filter(day__gte=since)
        .values("plan")
        .annotate(count=Sum("count"))
    }
    overview = []
    for plan in TrackingPlan.objects.prefetch_related("source_links__source"):
        new = sum(1 for row in violations(plan, days=days) if row["new"])
        overview.append(
            {
                "plan": plan,
                "sources": sorted(link.source.name for link in plan.source_links.all()),
                "events": len((plan.rules or {}).get("events", [])),
                "violations": counted.get(plan.pk, 0),
                "new": new,
            }
        )
    return overview


def observations(
    source: Source, *, days: int, limit: int, now: datetime | None = None
) -> Iterator[Observation]:
    """The events `source` sent in the last `days` days (by when they were received:
    what its instrumentation sends now), the newest `limit` of them."""
    since = (now or timezone.now()) - timedelta(days=days)
    rows = (
        Touchpoint.objects.filter(source=source, received_at__gte=since)
        .order_by("-id")
        .values_list("type", "event", "properties", "traits", "context")[:limit]
    )
    for kind, event, properties, traits, context in rows.iterator(chunk_size=2000):
        if kind == "identify" and not traits:
            traits = (context or {}).get("traits")
        yield Observation(kind, event, properties, traits)
