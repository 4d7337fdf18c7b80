"""Reads of the cdp app's tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, QuerySet

from cdp.models import Profile, RejectedEvent, Source, Touchpoint


def touchpoints_of_profile(profile: Profile) -> QuerySet[Touchpoint]:
    return Touchpoint.objects.filter(profile=profile).order_by("timestamp", "id")


def open_rejections(source: Source | None = None) -> QuerySet[RejectedEvent]:
    rejections = RejectedEvent.objects.filter(status=RejectedEvent.Status.OPEN)
    return rejections.filter(source=source) if source else rejections


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


@dataclass
class ProfileMatch:
    """A customer a search found: the live profile, and how it was found."""

    profile: Profile
    kind: str  # the identifier kind that matched, or "profile id"
    value: str  # the stored (normalised) value that matched
    via: int | None = None  # the merged-away profile the identifier was found on


@dataclass
class ProfileSearch:
    matches: list[ProfileMatch]
    # What the audit log keeps of the search: the kind and a keyed hash of the value.
    fingerprint: str


_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PROFILE_ID = re.compile(r"^(?:#|profile:|profile )?(\d{1,18})$", re.IGNORECASE)
SEARCH_RESULTS = 50


def find_profiles(query: str, *, limit: int = SEARCH_RESULTS) -> ProfileSearch:
    """The live profiles a search names: `kind:value` (email:ann@example.com), a bare
    value tried as every identifier kind it can be, normalised the way identity stores
    it, or a profile id (`#12`, `profile:12`, or digits, which may also be an id of
    another kind). A profile merged away leads to the one it lives in now.

    Indexed lookups only: one probe of the (kind, value) index per kind, the primary
    key for profile ids. ValueError names what is wrong with the query."""
    from consent.audit import search_fingerprint
    from identity.selectors import (
        active_profiles,
        identifiers_with_keys,
        search_keys,
        searched_kinds,
    )

    text = query.strip()
    if not text:
        raise ValueError("q: type an identifier or a profile id")
    if len(text) > 255:
        raise ValueError("q: at most 255 characters")
    profile_ids: list[int] = []
    keys: list[tuple[str, str]] = []
    by_id = _PROFILE_ID.match(text)
    if by_id:
        profile_ids.append(int(by_id[1]))
    kind, colon, value = text.partition(":")
    kind = kind.strip().lower()
    if colon and value.strip() and _KIND.match(kind) and kind != "profile":
        keys += search_keys(value.strip(), kind=kind)
        fingerprint = search_fingerprint(kind, keys[0][1] if keys else value.strip())
        if kind not in searched_kinds():  # maybe no kind at all: "urn:..." as typed
            keys += search_keys(text)
    elif by_id and not text.isdigit():
        fingerprint = f"profile id:{by_id[1]}"
    else:
        keys += search_keys(text)
        email = next((v for k, v in keys if k == "email"), None)
        fingerprint = (
            search_fingerprint("email", email) if email else search_fingerprint("any", text.lower())
        )
    if not keys and not profile_ids:
        raise ValueError(f"q: {text!r} is no identifier of any kind (nor a profile id)")

    found: list[tuple[int, str, str]] = [(pk, "profile id", str(pk)) for pk in profile_ids]
    found += [(i.profile_id, i.kind, i.value) for i in identifiers_with_keys(keys, limit=limit)]
    existing = set(
        Profile.objects.filter(pk__in=[pk for pk, _, _ in found]).values_list("pk", flat=True)
    )
    found = [row for row in found if row[0] in existing]
    live = active_profiles({pk for pk, _, _ in found})
    profiles = Profile.objects.in_bulk(set(live.values()))
    matches: list[ProfileMatch] = []
    seen: set[int] = set()
    for pk, kind_found, value_found in found:
        now = live[pk]
        if now in seen:
            continue
        seen.add(now)
        matches.append(
            ProfileMatch(profiles[now], kind_found, value_found, via=pk if pk != now else None)
        )
    return ProfileSearch(matches[:limit], fingerprint)
