"""The reads of segments and activation.

- Segments as database queries: a definition (attribution/segments/rules.py) compiles to
  one Django `Q` over active profiles (subqueries for events, channels and memberships),
  so the database does the work, never a Python loop over profiles. Consent is applied
  to what the query returns.
- Members and their history, best time to contact, a profile's segments.
- Profile facts and what the last full facts refresh learnt (personas).
- Which profiles changed, for the incremental re-evaluation.
- The Segments pages under /app/.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from attribution.segments import rules as segment_rules
from attribution.segments.models import (
    Delivery,
    Destination,
    Export,
    FactsModel,
    ProfileChannel,
    ProfileFacts,
    Segment,
    SegmentMembership,
)
from cdp.id_filters import id_groups, one_of
from cdp.models import Profile, Touchpoint
from cdp.selectors import profiles_with_touchpoints_resolved_since
from consent.policy import allowed_profiles
from consent.selectors import profiles_with_consent_recorded_since
from identity.selectors import profiles_merged_or_unmerged_since

LOOKUPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "contains": "icontains"}


def compile_q(
    definition: Mapping, *, now: datetime | None = None, profile_ids: list[int] | None = None
) -> Q:
    """The definition as a Q over Profile (validated first: RuleError names the place).
    With `profile_ids`, event rules read only those people's touchpoints: an incremental
    run does not count or scan events for everyone."""
    segment_rules.validate(definition)
    return _q(definition, now or timezone.now(), profile_ids)


def _q(node: Mapping, now: datetime, scope: list[int] | None = None) -> Q:
    if "all" in node or "any" in node:
        children = [_q(child, now, scope) for child in node.get("all", node.get("any"))]
        combined = children[0]
        for child in children[1:]:
            combined = combined & child if "all" in node else combined | child
        return combined
    if "not" in node:
        return ~_q(node["not"], now, scope)
    if "trait" in node:
        return _compare(f"traits__{node['trait']}", node, has_key=("traits", node["trait"]))
    if "fact" in node:
        if node["fact"] == "days_since_last_order":
            return _days_since(node, now)
        return _compare(f"facts__{node['fact']}", node)
    if "event" in node:
        return _event_q(node, now, scope)
    if "channel" in node:
        return _exists(ProfileChannel.objects.filter(channel=node["channel"]))
    if "computed" in node:
        return _computed_q(node)
    members = SegmentMembership.objects.filter(segment_id=node["segment"], exited_at__isnull=True)
    found = _exists(members)
    return found if node.get("member", True) else ~found


def _event_q(node: Mapping, now: datetime, scope: list[int] | None) -> Q:
    """Did (or did not do) the event, at least so many times, lately, with these properties."""
    touches = Touchpoint.objects.filter(event=node["event"], profile__isnull=False)
    if not settings.OMNITRAIL_SEGMENT_BOTS:  # bots' and crawlers' events (cdp enrichment)
        touches = touches.filter(is_bot=False)
    if node.get("within_days"):
        touches = touches.filter(timestamp__gte=now - timedelta(days=node["within_days"]))
    for key, value in (node.get("where") or {}).items():
        touches = touches.filter(**{f"properties__{key}": value})
    if scope is not None:
        touches = touches.filter(one_of("profile_id", scope))
    at_least = node.get("at_least", 1)
    if at_least > 1:
        # Count("*"), not Count("id"): the covering index (event, timestamp) INCLUDE
        # (profile_id) then answers without reading the table.
        people = (
            touches.values("profile_id")
            .annotate(times=Count("*"))
            .filter(times__gte=at_least)
            .values("profile_id")
        )
        found = Q(pk__in=people)
    elif scope is not None:
        # An incremental run: the changed profiles' own rows, then a hashed IN. As a
        # correlated EXISTS the planner probes the event's whole index per profile.
        found = Q(pk__in=touches.values("profile_id"))
    else:
        found = _exists(touches)
    return found if node.get("did", True) else ~found


def _computed_q(node: Mapping) -> Q:
    """A computed trait's stored value compared: numbers by `number`, text by `text` (a
    list of unique values compares its count as a number and its values as text)."""
    from attribution.traits.models import ProfileTraitValue

    values = ProfileTraitValue.objects.filter(trait__key=node["computed"])
    op: str = node["op"]
    value: Any = node.get("value")
    if op in ("is_set", "not_set"):
        return _exists(values) if op == "is_set" else ~_exists(values)

    def same(one: Any) -> Q:
        if isinstance(one, int | float) and not isinstance(one, bool):
            return Q(number=one)
        return Q(text=str(one))

    if op in ("equals", "not_equals"):
        found = _exists(values.filter(same(value)))
        return found if op == "equals" else ~found
    if op == "in":
        either = Q(pk__in=[])
        for one in value:
            either |= same(one)
        return _exists(values.filter(either))
    if op == "contains":
        return _exists(values.filter(text__icontains=value))
    if op == "between":
        return _exists(values.filter(number__gte=value[0], number__lte=value[1]))
    return _exists(values.filter(**{f"number__{LOOKUPS[op]}": value}))


def _exists(rows: QuerySet) -> Q:
    """The profile has such a row. EXISTS, not IN: negated, PostgreSQL plans it as an
    anti-join, where NOT IN over millions of rows is a subplan per profile."""
    return Q(Exists(rows.filter(profile_id=OuterRef("pk"))))


def _compare(path: str, node: Mapping, has_key: tuple[str, str] | None = None) -> Q:
    op: str = node["op"]
    value: Any = node.get("value")
    if op in ("is_set", "not_set"):
        if has_key:
            present = Q(**{f"{has_key[0]}__has_key": has_key[1]}) & ~Q(**{path: None})
        else:
            present = Q(**{f"{path}__isnull": False}) & ~Q(**{path: ""})
        return present if op == "is_set" else ~present
    if op == "equals":
        return Q(**{path: value})
    if op == "not_equals":
        return ~Q(**{path: value})
    if op == "in":
        return Q(**{f"{path}__in": value})
    if op == "between":
        return Q(**{f"{path}__gte": value[0], f"{path}__lte": value[1]})
    return Q(**{f"{path}__{LOOKUPS[op]}": value})


def _days_since(node: Mapping, now: datetime) -> Q:
    """`days_since_last_order` op N: compare the last order's time with now - N days
    (more days since = an earlier order). Never-bought profiles have no last order."""
    op, value = node["op"], node["value"]
    field = "facts__last_order_at"
    flip = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte"}
    if op == "between":
        return Q(
            **{
                f"{field}__lte": now - timedelta(days=value[0]),
                f"{field}__gte": now - timedelta(days=value[1]),
            }
        )
    if op in flip:
        return Q(**{f"{field}__{flip[op]}": now - timedelta(days=value)})

    def on_day(days: int) -> Q:  # the last order is `days` whole days old
        return Q(
            **{
                f"{field}__lte": now - timedelta(days=days),
                f"{field}__gt": now - timedelta(days=days + 1),
            }
        )

    if op == "in":
        return reduce(operator.or_, (on_day(days) for days in value))
    day = on_day(value)
    return ~day if op == "not_equals" else day


def candidates(
    definition: Mapping, *, profile_ids: list[int] | None = None, now: datetime | None = None
) -> QuerySet:
    """The active profiles the rules select (before consent), as a queryset of ids;
    among `profile_ids` (one group from `id_groups`) when given."""
    profiles = Profile.objects.filter(merged_into__isnull=True)
    if profile_ids is not None:
        profiles = profiles.filter(one_of("pk", profile_ids))
    rules = compile_q(definition, now=now, profile_ids=profile_ids)
    return profiles.filter(rules).values_list("pk", flat=True)


def evaluate(
    definition: Mapping,
    *,
    purpose=None,
    profile_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> tuple[set[int], int]:
    """The members (ids) the rules and the purpose's consent select, and how many the
    rules selected but consent left out."""
    # One plain query, not a server-side cursor: a cursor is planned for its first rows
    # and never in parallel (the Buyers rule at 1M profiles: 2.9 s against 1.8 s).
    if profile_ids is None:
        found = set(candidates(definition, now=now))
    else:
        found = set()
        for group in id_groups(set(profile_ids)):
            found.update(candidates(definition, profile_ids=group, now=now))
    if purpose is None:
        return found, 0
    allowed = allowed_profiles(purpose, found, at=now)
    return allowed, len(found) - len(allowed)


def estimate(definition: Mapping, *, purpose=None) -> dict:
    """What a definition would select now: members, and how many consent leaves out."""
    members, left_out = evaluate(definition, purpose=purpose)
    return {"size": len(members), "left_out_for_consent": left_out}


def current_members(segment: Segment) -> QuerySet:
    return SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)


def segments_of_profile(profile_id: int, *, history: bool = False) -> QuerySet:
    """A profile's memberships (current ones, or its whole history), newest first."""
    rows = SegmentMembership.objects.filter(profile_id=profile_id).select_related("segment")
    if not history:
        rows = rows.filter(exited_at__isnull=True)
    return rows.order_by("-entered_at")


def memberships_of_profiles(profile_ids: Iterable[int]) -> list[Mapping[str, Any]]:
    """Every membership (with its history) of these profiles, for an access bundle."""
    return list(
        SegmentMembership.objects.filter(profile_id__in=list(profile_ids))
        .order_by("entered_at", "pk")
        .values("segment__name", "profile_id", "entered_at", "exited_at")
    )


def size_history(segment: Segment, *, days: int = 30, now: datetime | None = None) -> list[dict]:
    """Members at the end of each of the last `days` days (the last point: now), walked
    back from the stored size: the size at a moment is today's, less who entered since,
    plus who left since. Two grouped queries over the window's entries and exits (the
    membership_entries and membership_current indexes), not a count per day over a
    million memberships."""
    now = now or timezone.now()
    end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    moments = [min(end - timedelta(days=back), now) for back in range(days - 1, -1, -1)]
    since = moments[0]
    entered = _changes_by_day(segment, "entered_at", since)
    exited = _changes_by_day(segment, "exited_at", since)
    points = []
    for at in moments:
        # A change counted on day d (its time in (start of d, end of d]) came after
        # `at` exactly when d is later than the day `at` closes.
        after = (at - timedelta(microseconds=1)).date()
        joined = sum(n for day, n in entered.items() if day > after)
        left = sum(n for day, n in exited.items() if day > after)
        points.append(
            {
                "date": (at - timedelta(seconds=1)).date().isoformat(),
                "size": segment.size - joined + left,
            }
        )
    return points


def _changes_by_day(segment: Segment, field: str, since: datetime) -> dict:
    """How many memberships of the segment entered (or exited) after `since`, per day of
    the change; a change exactly at midnight belongs to the day it ends. Changes dated
    after now (a refresh run with a later clock) count too: the stored size has them."""
    day = TruncDate(
        ExpressionWrapper(F(field) - timedelta(microseconds=1), output_field=DateTimeField()),
        tzinfo=UTC,
    )
    rows = (
        SegmentMembership.objects.filter(segment=segment, **{f"{field}__gt": since})
        .annotate(day=day)
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    return dict(rows)


BEST_TIME_BLOCKS = 10
BEST_TIME_PER_BLOCK = 2_000


def best_time_to_contact(segment: Segment) -> dict:
    """The hour of week and the channel most of the segment's members engage at: exact
    up to 20,000 members; beyond, estimated from 20,000 members taken in ten
    blocks spread over the profile ids (the facts are not summed over a million
    members in a request). `sampled` says how many members it was read from when
    estimated, None when exact."""
    sample = BEST_TIME_BLOCKS * BEST_TIME_PER_BLOCK
    if segment.size <= sample:
        return {**_best_time_of_all(segment), "sampled": None}
    members = current_members(segment).order_by("profile_id")
    low = members.values_list("profile_id", flat=True).first()
    high = members.reverse().values_list("profile_id", flat=True).first()
    if low is None:
        return {**_best_time_of_all(segment), "sampled": None}
    step = (high - low + 1) / BEST_TIME_BLOCKS
    hours: Counter = Counter()
    channels: Counter = Counter()
    read = 0
    for block in range(BEST_TIME_BLOCKS):
        start, stop = low + math.floor(block * step), low + math.floor((block + 1) * step)
        ids = members.filter(profile_id__gte=start, profile_id__lt=stop).values("profile_id")
        counted = (
            ProfileFacts.objects.filter(profile_id__in=ids[:BEST_TIME_PER_BLOCK])
            .values_list("best_hour_of_week", "best_contact_channel")
            .annotate(n=Count("pk"))
        )
        for hour, channel, n in counted:
            read += n
            if hour is not None:
                hours[hour] += n
            if channel:
                channels[channel] += n
    hour = min(hours, key=lambda h: (-hours[h], h)) if hours else None
    channel = min(channels, key=lambda c: (-channels[c], c)) if channels else None
    return {
        "hour_of_week": hour,
        "hour_of_week_label": hour_label(hour),
        "channel": channel,
        "sampled": read,
    }


def _best_time_of_all(segment: Segment) -> dict:

    facts = ProfileFacts.objects.filter(profile__in=current_members(segment).values("profile"))
    hour = (
        facts.exclude(best_hour_of_week=None)
        .values("best_hour_of_week")
        .annotate(n=Count("pk"))
        .order_by("-n", "best_hour_of_week")
        .first()
    )
    channel = (
        facts.exclude(best_contact_channel="")
        .values("best_contact_channel")
        .annotate(n=Count("pk"))
        .order_by("-n", "best_contact_channel")
        .first()
    )
    return {
        "hour_of_week": hour["best_hour_of_week"] if hour else None,
        "hour_of_week_label": hour_label(hour["best_hour_of_week"]) if hour else None,
        "channel": channel["best_contact_channel"] if channel else None,
    }


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def hour_label(hour_of_week: int | None) -> str | None:
    if hour_of_week is None:
        return None
    day, hour = divmod(hour_of_week, 24)
    return f"{DAYS[day]} {hour:02d}:00-{(hour + 1) % 24:02d}:00 UTC"


def segment_names() -> dict[int, str]:
    return dict(Segment.objects.values_list("pk", "name"))


# --- Profile facts -----------------------------------------------------------------------


def personas() -> list[dict]:
    """The buyer personas of the last full facts refresh: label, description, size."""
    stored = FactsModel.objects.order_by("-computed_at", "-pk").first()
    if stored is None:
        return []
    return [{k: p[k] for k in ("label", "description", "size")} for p in stored.personas]


def facts_of_profiles(profile_ids: Iterable[int]) -> list[Mapping[str, Any]]:
    """Each profile's facts, with its computed traits (`computed_traits`: key, name,
    value, the definition in words) for the 360° page and the access bundle."""
    from attribution.traits.services import traits_of_profiles

    ids = list(profile_ids)
    computed = traits_of_profiles(ids)
    return [
        {**row, "computed_traits": computed.get(row["profile_id"], [])}
        for row in ProfileFacts.objects.filter(profile_id__in=ids).values()
    ]


# --- Changed profiles --------------------------------------------------------------------


def profiles_changed_since(since: datetime) -> set[int]:
    """Profiles with a touchpoint placed, a merge or unmerge, or a consent record since
    `since` (merged-away profiles included: their memberships end)."""
    return (
        profiles_with_touchpoints_resolved_since(since)
        | profiles_merged_or_unmerged_since(since)
        | profiles_with_consent_recorded_since(since)
    )


# --- The Segments pages ------------------------------------------------------------------
# Each reads stored results (a segment's stored size) or a bounded, indexed slice of a big
# table, so a page renders in well under a second at a million profiles. A segment can
# hold a million members and years of enter / exit history: nothing below counts its
# memberships. (The page's size over time and best time to contact are `size_history`,
# two grouped queries over the window's changes, and `best_time_to_contact`, estimated
# from a sample above 20,000 members.)


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
        is_file = destination.kind != Destination.Kind.WEBHOOK  # a file, or an ad platform's
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
