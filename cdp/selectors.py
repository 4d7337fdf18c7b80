"""Reads of the cdp app's tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count

from cdp.models import Profile, RejectedEvent, Source, Touchpoint


def storage_summary() -> dict:
    """What is stored, for the demo and operators: counts by source and by type."""
    by_source = dict(
        Touchpoint.objects.values_list("source__name").annotate(n=Count("id")).order_by()
    )
    by_type = dict(Touchpoint.objects.values_list("type").annotate(n=Count("id")).order_by())
    return {
        "touchpoints": sum(by_source.values()),
        "touchpoints_by_source": by_source,
        "touchpoints_by_type": by_type,
        "unresolved_touchpoints": Touchpoint.objects.filter(resolved_at__isnull=True).count(),
        "profiles": Profile.objects.filter(merged_into__isnull=True).count(),
        "profiles_merged_away": Profile.objects.filter(merged_into__isnull=False).count(),
        "rejected_events": RejectedEvent.objects.count(),
        "sources": Source.objects.count(),
    }


def profiles_of_messages(source_id: int, message_ids: list[str]) -> set[int]:
    """The profiles the touchpoints of one batch were placed on."""
    return set(
        Touchpoint.objects.filter(
            source_id=source_id, message_id__in=message_ids, profile__isnull=False
        ).values_list("profile_id", flat=True)
    )


def profiles_with_touchpoints_resolved_since(since) -> set[int]:
    return set(
        Touchpoint.objects.filter(resolved_at__gte=since, profile__isnull=False)
        .values_list("profile_id", flat=True)
        .distinct()
    )


# --- the 360° page ----------------------------------------------------------------------

TIMELINE_PAGE = 50
# Touchpoints of one profile counted exactly up to this many (an index range scan);
# beyond, the page says "more than". A bot or a shared device can hold millions.
COUNT_CAP = 100_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"^(-?\d{1,20})_(\d{1,20})$")


@dataclass
class TimelinePage:
    """One page of a profile's touchpoints, newest first, and the cursors (opaque
    strings for the address) of the pages next to it; None where there is none."""

    touchpoints: list[Touchpoint]
    newer: str | None = None
    older: str | None = None


def timeline_cursor(touchpoint: Touchpoint) -> str:
    """A position in a timeline: the touchpoint's time (in microseconds) and id."""
    return f"{(touchpoint.timestamp - _EPOCH) // timedelta(microseconds=1)}_{touchpoint.pk}"


def parse_timeline_cursor(cursor: str) -> tuple[datetime, int]:
    """The (time, id) a cursor stands for; ValueError when it is not one."""
    found = _CURSOR.match(cursor or "")
    if not found:
        raise ValueError("not a timeline position")
    try:
        at = _EPOCH + timedelta(microseconds=int(found[1]))
    except OverflowError:
        raise ValueError("not a timeline position") from None
    return at, int(found[2])


def timeline(
    profile_id: int, *, before: str = "", after: str = "", size: int = TIMELINE_PAGE
) -> TimelinePage:
    """A page of the profile's touchpoints, newest first: the newest ones, those just
    older than the `before` cursor, or those just newer than the `after` cursor.

    Keyset pagination on the (profile, timestamp) index: a page deep in a timeline of
    100,000 touchpoints costs what the first one does (no OFFSET scan). Touchpoints of
    profiles merged into this one were moved onto it by the merge, so they are here."""
    rows = Touchpoint.objects.filter(profile_id=profile_id).select_related("source")
    if after:
        at, pk = parse_timeline_cursor(after)
        found = list(
            rows.filter(timestamp__gte=at)
            .exclude(timestamp=at, pk__lte=pk)
            .order_by("timestamp", "pk")[: size + 1]
        )
        page = found[:size][::-1]
        newer = timeline_cursor(page[0]) if len(found) > size else None
        return TimelinePage(page, newer=newer, older=timeline_cursor(page[-1]) if page else None)
    if before:
        at, pk = parse_timeline_cursor(before)
        rows = rows.filter(timestamp__lte=at).exclude(timestamp=at, pk__gte=pk)
    found = list(rows.order_by("-timestamp", "-pk")[: size + 1])
    page = found[:size]
    older = timeline_cursor(page[-1]) if len(found) > size else None
    newer = timeline_cursor(page[0]) if before and page else None
    return TimelinePage(page, newer=newer, older=older)


def touchpoint_count(profile_id: int, *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many touchpoints the profile has, counted on the index up to `cap`, and
    whether there are more than that."""
    counted = Touchpoint.objects.filter(profile_id=profile_id).values("pk")[: cap + 1].count()
    return min(counted, cap), counted > cap


def touchpoint_span(profile_id: int) -> tuple[datetime | None, datetime | None]:
    """When the profile's first and last touchpoints happened (two index probes)."""
    times = Touchpoint.objects.filter(profile_id=profile_id).values_list("timestamp", flat=True)
    return times.order_by("timestamp").first(), times.order_by("-timestamp").first()
