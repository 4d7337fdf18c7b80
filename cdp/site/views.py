"""The 360° customer pages: find a customer by any identifier, see everything held about
them on one page, and undo a merge from there.

Everything on these pages is personal data: every page shown (and every table
downloaded) is written to the audit log, and values are hidden from users without the
personal-data permission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from attribution.engine.models import DEFAULT_GOAL, model_label, pick
from attribution.models import Goal
from attribution.segments.selectors import facts_of_profiles, segments_of_profile
from attribution.selectors import latest_run
from attribution.selectors.currency import goal_currency
from attribution.selectors.customers import customer_attribution, touchpoint_channels
from attribution.selectors.runs import goals_with_runs
from cdp import formatting
from cdp.audit import record_access
from cdp.charts import axis, money_axis
from cdp.models import AuditEntry, Profile
from cdp.pages import (
    VIEW_CUSTOMER_360,
    VIEW_PERSONAL_DATA,
    Chart,
    Link,
    Table,
    amount,
    page_permission,
    render_page,
    when,
)
from cdp.selectors import TimelinePage, timeline, touchpoint_count, touchpoint_span
from cdp.site.selectors import CustomerConversion, conversions_of_profile, find_profiles
from consent.officer import find_people, person_name
from consent.selectors import consent_history, current_consent
from identity.models import MergeDecision
from identity.selectors import (
    active_profile,
    identifiers_of_profile,
    merge_history_with_members,
    merged_members,
)
from identity.services.merging import MergeRefused, unmerge

HIDDEN = "(hidden)"
# How much of the long lists the page shows (the newest first).
HISTORY_ROWS = 100


def _audited(
    request: HttpRequest, response: HttpResponse, *, object_type: str, object_id="", path=None
) -> HttpResponse:
    """Write what the user was shown (or downloaded) to the audit log."""
    if response.status_code in (200, 400):  # a page (or its CSV) was sent
        exported = bool(request.GET.get("download"))
        record_access(
            request,
            action=AuditEntry.Action.EXPORT if exported else AuditEntry.Action.VIEW,
            object_type=object_type,
            object_id=object_id,
            path=path,
        )
    return response


# --- search -----------------------------------------------------------------------------


def _found_by_name(query: str, shown: set[str]) -> list[list[Any]]:
    """Rows for the customers whose name matches every word typed ("Arjun Ramirez")."""
    if any(c.isdigit() or c in "@:" for c in query):
        return []
    rows = []
    for profile in Profile.objects.filter(pk__in=find_people(query)):
        url = reverse("app-profile", args=[profile.pk])
        if url in shown:
            continue
        traits = profile.traits or {}
        rows.append(
            [
                Link(f"Profile {profile.pk}", url),
                "name",
                person_name(profile),
                person_name(profile),
                str(traits.get("email", "")),
                "",
            ]
        )
    return rows


@page_permission(VIEW_CUSTOMER_360)
@require_GET
def profile_search(request: HttpRequest) -> HttpResponse:
    """Find customers by any identifier (email, phone, user id, loyalty id, device id
    ..., with or without "kind:"), by profile id, or (for those who may see personal
    data) by name."""
    query = request.GET.get("q", "").strip()
    personal = request.user.has_perm(VIEW_PERSONAL_DATA)
    error, found = "", None
    if query:
        try:
            found = find_profiles(query)
        except ValueError as problem:
            error = str(problem)
    rows = []
    for match in found.matches if found else []:
        traits = match.profile.traits or {}
        name = " ".join(str(traits[t]) for t in ("first_name", "last_name") if traits.get(t))
        rows.append(
            [
                Link(
                    f"Profile {match.profile.pk}", reverse("app-profile", args=[match.profile.pk])
                ),
                match.kind,
                match.value if personal or match.kind == "profile id" else HIDDEN,
                name if personal else HIDDEN,
                str(traits.get("email", "")) if personal else HIDDEN,
                f"found on profile {match.via}, merged into this one" if match.via else "",
            ]
        )
    shown = {getattr(row[0], "url", "") for row in rows}
    named = _found_by_name(query, shown) if personal and query else []
    if named:
        error = ""  # not an identifier, but a name
    rows += named
    results = Table(
        "results",
        "Customers found",
        ["Profile", "Found by", "Value", "Name", "Email", "Note"],
        rows,
    )
    response = render_page(
        request,
        "app/profiles/search.html",
        {"query": query, "error": error, "searched": bool(query), "found": found},
        title="Customers",
        tables=[results],
        invalid=bool(error),
    )
    if not query:
        return response
    # The audit log keeps who searched and a keyed hash of what, never the value itself
    # (the query string holds it, so the path is stored without it).
    return _audited(
        request,
        response,
        object_type="cdp.profile.search",
        object_id=found.fingerprint if found else "invalid",
        path=request.path,
    )


# --- one customer -----------------------------------------------------------------------


@page_permission(VIEW_CUSTOMER_360)
@require_GET
def profile_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Everything held about one customer: golden record and where each value came
    from, identifiers, every touchpoint, consent, segments, merges, attribution."""
    profile = get_object_or_404(Profile, pk=pk)
    if profile.merged_into_id is not None:
        live = active_profile(profile.pk)
        messages.info(request, f"Profile {profile.pk} was merged into profile {live}.")
        return redirect("app-profile", pk=live)
    personal = request.user.has_perm(VIEW_PERSONAL_DATA)
    errors: dict[str, str] = {}
    page = _timeline_page(profile.pk, request.GET, errors)
    goals, goal, run = _goal_and_run(request.GET.get("goal", ""), errors)
    currency = goal_currency(goal)
    held = _read_customer(profile, page, run)
    tables, charts = _customer_tables(profile, page, held, _shown_to(personal), currency)
    response = render_page(
        request,
        "app/profiles/detail.html",
        {
            "profile": profile,
            "errors": errors,
            "page": page,
            "count": held.count,
            "count_more": held.count_more,
            "first_at": held.first_at,
            "last_at": held.last_at,
            "identifier_count": len(held.identifiers),
            "current_segments": sum(1 for m in held.memberships if m.exited_at is None),
            "facts": held.facts,
            "merges": held.merges,
            "members": sorted(merged_members({profile.pk}).keys() - {profile.pk}),
            "goals": goals,
            "goal": goal,
            "run": run,
            "attribution": held.attribution,
            "population_models": [
                model_label(m)
                for m in (held.attribution.population_models if held.attribution else [])
            ],
            "personal": personal,
            "currency": currency,
            "conversions_more": held.conversions_more,
        },
        title=person_name(profile) if personal else f"Customer {profile.pk}",
        tables=tables,
        charts=charts,
        invalid=bool(errors),
    )
    return _audited(request, response, object_type="cdp.profile", object_id=profile.pk)


def _shown_to(personal: bool) -> Callable[[object], str]:
    """How a personal value is shown: as it is, or hidden from users without the
    personal-data permission."""

    def shown(value) -> str:
        return str(value) if personal else HIDDEN

    return shown


def _timeline_page(profile_id: int, query, errors: dict[str, str]) -> TimelinePage:
    """The page of the timeline the address asks for (`before` or `after` a cursor); the
    newest page, and an error naming the cursor, when it is not one."""
    before, after = query.get("before", ""), query.get("after", "")
    try:
        return timeline(profile_id, before=before, after=after)
    except ValueError:
        errors["before" if before else "after"] = "is not a position in this timeline"
        return timeline(profile_id)


def _goal_and_run(goal_key: str, errors: dict[str, str]):
    """Every goal, the one asked for (unknown: an error naming the known ones) or else
    the first with a run, and its latest attribution run."""
    goals = list(Goal.objects.order_by("key"))
    goal = next((g for g in goals if g.key == goal_key), None)
    if goal_key and goal is None:
        known = ", ".join(g.key for g in goals) or "none yet"
        errors["goal"] = f"no goal {goal_key!r} (known: {known})"
    if goal is None and not goal_key:
        with_runs = {g.key: g for g in goals_with_runs()}
        chosen = pick("", list(with_runs), DEFAULT_GOAL)
        goal = with_runs.get(chosen) if chosen else None
    run = latest_run(goal.key) if goal else None
    return goals, goal, run


@dataclass
class CustomerRecord:
    """What the page reads about one customer, each from the app that holds it."""

    count: int
    count_more: bool
    identifiers: list
    memberships: list
    consents: list
    history: list
    merges: list
    facts: Any
    attribution: Any
    first_at: datetime | None
    last_at: datetime | None
    channels: list[str]
    conversions: list[CustomerConversion]
    conversions_more: bool
    conversion_channels: list[str]


def _read_customer(profile: Profile, page: TimelinePage, run) -> CustomerRecord:
    count, more = touchpoint_count(profile.pk)
    identifiers = list(identifiers_of_profile(profile))
    memberships = list(segments_of_profile(profile.pk, history=True)[:HISTORY_ROWS])
    consents = current_consent(profile.pk)
    history = list(consent_history(profile.pk)[:HISTORY_ROWS])
    merges = merge_history_with_members(profile.pk, limit=HISTORY_ROWS)
    facts = next(iter(facts_of_profiles([profile.pk])), None)
    attribution = customer_attribution(profile.pk, run) if run else None
    first_at, last_at = touchpoint_span(profile.pk)
    own_domains = (run.parameters or {}).get("own_domains") if run else None
    channels = touchpoint_channels(page.touchpoints, own_domains=own_domains)
    conversions, conversions_more = conversions_of_profile(profile.pk)
    conversion_channels = touchpoint_channels(
        [c.touchpoint for c in conversions], own_domains=own_domains
    )
    return CustomerRecord(
        count=count,
        count_more=more,
        identifiers=identifiers,
        memberships=memberships,
        consents=consents,
        history=history,
        merges=merges,
        facts=facts,
        attribution=attribution,
        first_at=first_at,
        last_at=last_at,
        channels=channels,
        conversions=conversions,
        conversions_more=conversions_more,
        conversion_channels=conversion_channels,
    )


def _customer_tables(
    profile: Profile,
    page: TimelinePage,
    held: CustomerRecord,
    shown: Callable[[object], str],
    currency: str,
) -> tuple[list[Table], list[Chart]]:
    """The page's tables, in the order it shows them, and its chart."""
    tables = [
        _conversions_table(held.conversions, held.conversion_channels),
        _traits_table(profile, shown),
        _identifier_table(held.identifiers, shown),
        _timeline_table(page.touchpoints, held.channels, shown, currency),
        *_consent_tables(held.consents, held.history),
        _segment_table(held.memberships),
        _merge_table(held.merges, shown),
    ]
    charts = []
    if held.attribution:
        journey_table, credit_table, chart = _attribution_tables(held.attribution, currency)
        tables += [journey_table, credit_table]
        if chart:
            charts.append(chart)
    return tables, charts


def _conversions_table(conversions: list[CustomerConversion], channels: list[str]) -> Table:
    """Every goal's conversions (orders first of all), newest first, each in the currency
    it was sent in: what a CRM manager looks for first, whatever page of the timeline."""
    return Table(
        "conversions",
        "Purchases and conversions, newest first",
        ["When", "Goal", "Event", "Value", "Order", "Channel", "Source"],
        [
            [
                when(c.touchpoint.timestamp),
                ", ".join(c.goals),
                c.touchpoint.event,
                amount(None if c.value is None else f"{c.value:.2f}", c.currency),
                str((c.touchpoint.properties or {}).get("order_id") or ""),
                channel,
                c.touchpoint.source.name,
            ]
            for c, channel in zip(conversions, channels, strict=True)
        ],
        numeric={"Value"},
        empty="No purchase or conversion yet.",
    )


def _traits_table(profile: Profile, shown) -> Table:
    sources = profile.trait_sources or {}
    return Table(
        "traits",
        "Golden record: each trait and where its value came from",
        ["Trait", "Value", "Source", "Said at", "Rule"],
        [
            [
                trait,
                shown(value),
                sources.get(trait, {}).get("source", ""),
                when(_parse(sources.get(trait, {}).get("at"))),
                sources.get(trait, {}).get("rule", ""),
            ]
            for trait, value in sorted((profile.traits or {}).items())
        ],
        empty="No trait yet.",
    )


def _identifier_table(identifiers: list, shown) -> Table:
    return Table(
        "identifiers",
        "Identifiers",
        ["Kind", "Value", "Status", "First seen", "Last seen"],
        [
            [i.kind, shown(i.value), i.status, when(i.first_seen), when(i.last_seen)]
            for i in identifiers
        ],
        empty="No identifier yet.",
    )


def _timeline_table(touchpoints: list, channels: list[str], shown, currency: str) -> Table:
    return Table(
        "timeline",
        "Timeline: every touchpoint, newest first",
        ["When", "Channel", "Source", "Type", "Event", "Campaign", "Device", "Revenue"],
        [
            [
                when(touchpoint.timestamp),
                channel,
                touchpoint.source.name,
                touchpoint.type,
                touchpoint.event,
                touchpoint.utm_campaign,
                _device(touchpoint, shown),
                amount(touchpoint.revenue, touchpoint.currency or currency),
            ]
            for touchpoint, channel in zip(touchpoints, channels, strict=True)
        ],
        numeric={"Revenue"},
        empty="No touchpoint yet.",
    )


def _consent_tables(consents: list, history: list) -> tuple[Table, Table]:
    now = Table(
        "consent",
        "Consent now, per purpose",
        ["Purpose", "State", "May use", "Because of"],
        [
            [c["purpose"], c["state"] or "not stated", "yes" if c["allowed"] else "no", c["by"]]
            for c in consents
        ],
        empty="No purpose defined yet.",
    )
    before = Table(
        "consent_history",
        "Consent history, newest first",
        ["Given at", "Purpose", "Status", "Channel", "Source", "Expires", "Profile"],
        [
            [
                when(record.given_at),
                record.purpose.key,
                record.status,
                record.channel,
                record.source.name if record.source else "",
                when(record.expires_at),
                record.profile_id,
            ]
            for record in history
        ],
        empty="No consent recorded.",
    )
    return now, before


def _segment_table(memberships: list) -> Table:
    return Table(
        "segments",
        "Segments",
        ["Segment", "Entered", "Left", "Member now"],
        [
            [
                m.segment.name,
                when(m.entered_at),
                when(m.exited_at),
                "yes" if m.exited_at is None else "no",
            ]
            for m in memberships
        ],
        empty="In no segment, now or before.",
    )


def _merge_table(merges: list, shown) -> Table:
    return Table(
        "merges",
        "Merge history",
        ["Decision", "When", "Kept", "Merged", "Method", "Evidence", "Decided by", "Undone"],
        [
            [
                d.pk,
                when(d.created_at),
                d.survivor_id,
                d.merged_id,
                d.get_method_display(),
                _evidence(d.evidence, shown),
                d.decided_by,
                f"{when(d.undone_at)} by {d.undone_by}" if d.undone_at else "",
            ]
            for d in merges
        ],
    )


def _parse(at: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(at) if at else None
    except ValueError:
        return None


def _device(touchpoint, shown) -> str:
    """The device a touchpoint came from: its type (ios, android ...) or, for a browser,
    whether it was a phone; then the device id."""
    device = (touchpoint.context or {}).get("device") or {}
    kind = touchpoint.device_type or (device.get("type") if isinstance(device, dict) else "")
    if not kind and touchpoint.user_agent:
        kind = "mobile browser" if "Mobi" in touchpoint.user_agent else "browser"
    if touchpoint.device_id:
        return f"{kind} {shown(touchpoint.device_id)}".strip()
    return kind or ""


def _evidence(evidence: dict, shown) -> str:
    """A merge decision's evidence in a line: the identifier that joined, or Splink's
    probability and per-field levels."""
    if not isinstance(evidence, dict):
        return ""
    parts = []
    if evidence.get("kind"):
        parts.append(f"{evidence['kind']} {shown(evidence.get('value', ''))}".strip())
    if evidence.get("match_probability") is not None:
        parts.append(f"match probability {float(evidence['match_probability']):.1%}")
    if evidence.get("review"):
        parts.append(f"review {evidence['review']}")
    levels = evidence.get("levels") or {}
    if isinstance(levels, dict) and levels:
        parts.append("; ".join(f"{field}: {level}" for field, level in levels.items()))
    known = {"kind", "value", "match_probability", "match_weight", "review", "levels", "records"}
    parts += [f"{k}: {shown(v)}" for k, v in evidence.items() if k not in known]
    return " · ".join(parts)


def _path(channels: list[str]) -> str:
    """A journey's channels in order, a run of one channel written once with its count
    ("Email → Direct ×3")."""
    runs: list[list] = []
    for channel in channels:
        if runs and runs[-1][0] == channel:
            runs[-1][1] += 1
        else:
            runs.append([channel, 1])
    return " → ".join(f"{c} ×{n}" if n > 1 else c for c, n in runs)


def _attribution_tables(attribution, currency: str) -> tuple[Table, Table, Chart | None]:
    models = attribution.models
    journeys = Table(
        "journeys",
        "The newest conversions and the journeys before them",
        ["Converted", "Value", "Touches", "Path", "Campaigns"],
        [
            [
                when(journey.converted_at),
                amount(f"{journey.value:.2f}", currency),
                len(journey.channels),
                _path(journey.channels),
                ", ".join(dict.fromkeys(c for c in journey.campaigns if c)),
            ]
            for journey in attribution.journeys
        ],
        numeric={"Value", "Touches"},
        empty="No conversion in this run.",
    )
    totals = attribution.credits
    channels = sorted({c for per_channel in totals.values() for c in per_channel})
    columns = ["Channel", *(model_label(m) for m in models)]
    credits = Table(
        "credits",
        "Revenue credited to each channel for this customer, per model",
        columns,
        [
            [
                channel,
                *(
                    amount(f"{totals.get(m, {}).get(channel, (0.0, 0.0))[1]:.2f}", currency)
                    for m in models
                ),
            ]
            for channel in channels
        ],
        numeric=set(columns[1:]),
        empty="Nothing credited.",
    )
    if not channels:
        return journeys, credits, None
    figure = go.Figure(
        [
            go.Bar(
                name=channel,
                x=[model_label(model) for model in models],
                y=[round(totals.get(model, {}).get(channel, (0.0, 0.0))[1], 2) for model in models],
                marker_color=formatting.channel_colour(channel),
            )
            for channel in channels
        ]
    )
    figure.update_layout(
        barmode="stack",
        xaxis=axis("Attribution model", type="category"),
        yaxis=money_axis("Revenue credited", currency),
        legend={"orientation": "h", "y": -0.3, "title": {"text": "Channel"}},
    )
    chart = Chart(
        "credits",
        figure,
        "Revenue each model credits to each channel for this customer's conversions: one "
        "bar per model, split into its channels",
    )
    return journeys, credits, chart


# --- undoing a merge --------------------------------------------------------------------


@page_permission(VIEW_CUSTOMER_360, "identity.change_mergedecision")
@require_POST
def profile_unmerge(request: HttpRequest, pk: int, decision_pk: int) -> HttpResponse:
    """Undo one merge of this customer's history: the merged profile comes back as it
    was, and the pair is never merged again."""
    profile = get_object_or_404(Profile, pk=pk)
    decision = get_object_or_404(MergeDecision, pk=decision_pk)
    members = merged_members({profile.pk})
    if decision.survivor_id not in members and decision.merged_id not in members:
        messages.error(request, f"Merge {decision.pk} is not in profile {profile.pk}'s history.")
        return redirect("app-profile", pk=profile.pk)
    try:
        restored = unmerge(decision, decided_by=request.user.get_username())
    except MergeRefused as refusal:
        messages.error(request, f"Not unmerged: {refusal}.")
    else:
        record_access(
            request,
            action=AuditEntry.Action.CHANGE,
            object_type="identity.mergedecision",
            object_id=decision.pk,
        )
        messages.success(
            request,
            f"Unmerged: profile {restored.pk} is separate from profile {decision.survivor_id} "
            "again, and the two will not be merged again.",
        )
    return redirect("app-profile", pk=profile.pk)
