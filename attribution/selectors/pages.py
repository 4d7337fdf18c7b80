"""Reads for the report pages under /app/ (journeys, segments): each reads stored results
(a run's summary, its credits, a segment's stored size) or a bounded, indexed slice of
a big table, so a page renders in well under a second at a million profiles.

A segment can hold a million members and years of enter / exit history: nothing here
counts its memberships. `size_history` and `best_time_to_contact` in
attribution.selectors.segments do (a count per day; a join of every member's facts),
which is fine for the API's occasional call but not for every page view.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform

from attribution.engine import segment_rules
from attribution.models import (
    AttributionRun,
    Delivery,
    Destination,
    Export,
    Goal,
    Segment,
)
from attribution.selectors.segments import current_members
from cdp.models import Profile

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


# --- Segments ---------------------------------------------------------------------------


def segments_in_words() -> list[dict]:
    """Every segment with its stored size, purpose, last refresh and its rules in words."""
    segments = list(Segment.objects.select_related("purpose").order_by("name"))
    names = {segment.pk: segment.name for segment in segments}
    return [
        {
            "segment": segment,
            "in_words": rules_in_words(segment, names),
        }
        for segment in segments
    ]


def rules_in_words(segment: Segment, names: dict[int, str] | None = None) -> str:
    """The segment's rules in words, naming the segments its membership rules read."""
    if not segment.definition:
        return "no rules yet"
    if names is None:
        referenced = segment_rules.segments_referenced(segment.definition)
        names = dict(Segment.objects.filter(pk__in=referenced).values_list("pk", "name"))
    return segment_rules.describe(segment.definition, names)


def segment_members_page(
    segment: Segment, *, page: int, per_page: int = 50, personal_data: bool = False
) -> list[dict]:
    """One page of the current members, by profile id (the open-membership index serves
    the order), with name and email from the traits only when `personal_data`."""
    start = (page - 1) * per_page
    rows = list(
        current_members(segment)
        .order_by("profile_id")
        .values("profile_id", "entered_at")[start : start + per_page]
    )
    if personal_data and rows:
        profiles = (
            Profile.objects.filter(pk__in=[row["profile_id"] for row in rows])
            .annotate(**_contact_traits("traits"))
            .values_list("pk", *CONTACT_FIELDS)
        )
        contact = {pk: _name_and_email(*fields) for pk, *fields in profiles}
        for row in rows:
            row["name"], row["email"] = contact.get(row["profile_id"], ("", ""))
    return rows


def member_pages(segment: Segment, *, per_page: int = 50) -> int:
    """How many pages the current members fill, from the stored size (at least one)."""
    return max(1, math.ceil(segment.size / per_page))


def all_members(segment: Segment, *, personal_data: bool = False) -> Iterator[tuple]:
    """Every current member as (profile id, entered at[, name, email]), by profile id,
    read in chunks: a download of a million rows never holds them all."""
    rows = current_members(segment).order_by("profile_id")
    if not personal_data:
        yield from rows.values_list("profile_id", "entered_at").iterator(chunk_size=5_000)
        return
    with_contact = rows.annotate(**_contact_traits("profile__traits")).values_list(
        "profile_id", "entered_at", *CONTACT_FIELDS
    )
    for pk, entered_at, *fields in with_contact.iterator(chunk_size=5_000):
        yield (pk, entered_at, *_name_and_email(*fields))


# The traits a member row shows to who may see personal data, read out of the traits
# document in the database rather than loading the whole document.
CONTACT_TRAITS = ("name", "first_name", "last_name", "email")
CONTACT_FIELDS = tuple(f"trait_{key}" for key in CONTACT_TRAITS)


def _contact_traits(traits: str) -> dict:
    return {f"trait_{key}": KeyTextTransform(key, traits) for key in CONTACT_TRAITS}


def _name_and_email(name, first, last, email) -> tuple[str, str]:
    return name or " ".join(part for part in (first, last) if part), email or ""


def segment_destinations(segment: Segment) -> list[dict]:
    """Where the segment is sent, each with what it was last sent: a file's last export
    (rows written, left out for consent), a webhook's last delivery (status, left out
    for consent at that sync)."""
    exports = Export.objects.filter(destination=OuterRef("pk"), segment=segment).order_by(
        "-created_at", "-pk"
    )
    deliveries = Delivery.objects.filter(destination=OuterRef("pk"), segment=segment).order_by(
        "-created_at", "-pk"
    )
    rows = (
        Destination.objects.filter(segments=segment)
        .select_related("purpose")
        .annotate(
            export_at=Subquery(exports.values("created_at")[:1]),
            export_rows=Subquery(exports.values("rows")[:1]),
            export_left_out=Subquery(exports.values("left_out_for_consent")[:1]),
            delivery_at=Subquery(deliveries.values("created_at")[:1]),
            delivery_status=Subquery(deliveries.values("status")[:1]),
            delivery_left_out=Subquery(deliveries.values("left_out_for_consent")[:1]),
        )
        .order_by("name")
    )
    out = []
    for destination in rows:
        is_file = destination.kind == Destination.Kind.FILE
        out.append(
            {
                "name": destination.name,
                "kind": destination.get_kind_display(),
                "purpose": destination.purpose.name,
                "channel": destination.channel,
                "active": destination.active,
                "last_sent_at": destination.export_at if is_file else destination.delivery_at,
                "rows": destination.export_rows if is_file else None,
                "status": "written"
                if is_file and destination.export_at
                else (destination.delivery_status or ""),
                "left_out_for_consent": (
                    destination.export_left_out if is_file else destination.delivery_left_out
                ),
            }
        )
    return out


def recent_exports(segment: Segment, *, limit: int = 10) -> list[Export]:
    """The segment's latest export files, newest first."""
    return list(
        Export.objects.filter(segment=segment)
        .select_related("destination")
        .order_by("-created_at", "-pk")[:limit]
    )
