"""The Segments pages: every segment with its rules in words and its stored size; one
segment's size over time, members (a page at a time, or all of them as CSV), best time
to contact, and where it is sent with how many consent left out.

Sizes are the stored `Segment.size` (kept by every refresh), never a count of the
memberships, which run to millions of rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from plotly import graph_objects as go

from attribution.segments.audiences import PLATFORM_NAMES, audience_lines, send_now
from attribution.segments.models import Destination, Export, Segment
from attribution.segments.selectors import (
    all_members,
    best_time_to_contact,
    member_pages,
    recent_exports,
    rules_in_words,
    segment_destinations,
    segment_members_page,
    segments_in_words,
    size_history,
)
from cdp.pages import (
    VIEW_CUSTOMER_360,
    VIEW_PERSONAL_DATA,
    VIEW_REPORTS,
    Chart,
    Table,
    page_permission,
    render_page,
)

MEMBERS_PER_PAGE = 50
SEND_TO_DESTINATION = "attribution.change_destination"


@page_permission(VIEW_REPORTS)
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = segments_in_words()
    rows = [
        [
            entry["segment"].name,
            entry["in_words"],
            entry["segment"].size,
            entry["segment"].purpose.name if entry["segment"].purpose else "",
            _when(entry["segment"].last_refreshed_at),
            entry["segment"].refresh_minutes,
            "yes" if entry["segment"].active else "no",
        ]
        for entry in segments
    ]
    table = Table(
        "segments",
        "Segments",
        [
            "Segment",
            "Rules",
            "Members",
            "Consent purpose",
            "Last refreshed (UTC)",
            "Refresh every (minutes)",
            "Active",
        ],
        rows,
        numeric={"Members", "Refresh every (minutes)"},
    )
    return render_page(
        request,
        "app/segments.html",
        {"segments": segments},
        title="Segments",
        tables=[table],
        charts=[_sizes_chart(segments)] if segments else [],
    )


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _sizes_chart(segments: list[dict]) -> Chart:
    ordered = sorted(segments, key=lambda entry: entry["segment"].size)
    figure = go.Figure(
        go.Bar(
            x=[entry["segment"].size for entry in ordered],
            y=[entry["segment"].name for entry in ordered],
            orientation="h",
            marker_color="#1f77b4",
            hovertemplate="%{y}: %{x} members<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(260, 28 * len(ordered) + 80),
        xaxis_title="Members",
        yaxis={"automargin": True},
        margin={"l": 10, "r": 10, "t": 20, "b": 40},
    )
    return Chart("sizes", figure, "Members of each segment, as of its last refresh.")


class SegmentFilters(forms.Form):
    days = forms.IntegerField(label="Days of size history", min_value=1, max_value=366)
    page = forms.IntegerField(label="Members page", min_value=1)


@page_permission(VIEW_REPORTS)
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
    segment = get_object_or_404(Segment.objects.select_related("purpose"), pk=pk)
    personal_data = request.user.has_perm(VIEW_PERSONAL_DATA)
    if request.method == "POST":
        return _send(request, segment)
    wanted = request.GET.get("download")
    if wanted == "members":
        return _members_csv(segment, personal_data=personal_data)
    if wanted in PLATFORM_NAMES:
        return _audience_csv(segment, wanted, personal_data=personal_data)
    if request.GET.get("file"):
        return _export_file(request, segment, personal_data=personal_data)
    form = SegmentFilters(
        {"days": request.GET.get("days") or 30, "page": request.GET.get("page") or 1}
    )
    pages = member_pages(segment, per_page=MEMBERS_PER_PAGE)
    context = {
        "segment": segment,
        "form": form,
        "in_words": rules_in_words(segment),
        "pages": pages,
        "per_page": MEMBERS_PER_PAGE,
    }
    if not form.is_valid():
        return render_page(request, "app/segment.html", context, title=segment.name, invalid=True)
    days, page = form.cleaned_data["days"], form.cleaned_data["page"]
    if page > pages:
        context["page_error"] = (
            f"Members page {page} does not exist: the last page is {pages} "
            f"({segment.size} members, {MEMBERS_PER_PAGE} to a page)."
        )
        response = render_page(request, "app/segment.html", context, title=segment.name)
        response.status_code = 404
        return response

    history = size_history(segment, days=days)
    members = segment_members_page(
        segment, page=page, per_page=MEMBERS_PER_PAGE, personal_data=personal_data
    )
    destinations = segment_destinations(segment)
    exports = recent_exports(segment)
    context |= {
        "days": days,
        "page": page,
        "first_on_page": (page - 1) * MEMBERS_PER_PAGE + 1 if members else 0,
        "last_on_page": (page - 1) * MEMBERS_PER_PAGE + len(members),
        "members": members,
        "best_time": best_time_to_contact(segment),
        "destinations": destinations,
        "personal_data": personal_data,
        "profile_links": request.user.has_perm(VIEW_CUSTOMER_360),
        "can_send": request.user.has_perm(SEND_TO_DESTINATION),
        "sendable": list(
            segment.destinations.filter(active=True).order_by("name").values("pk", "name", "kind")
        ),
        "platform_downloads": list(PLATFORM_NAMES.items()),
        "deliveries": exports,
    }
    tables = _detail_tables(history, days=days, destinations=destinations, exports=exports)
    return render_page(
        request,
        "app/segment.html",
        context,
        title=segment.name,
        tables=tables,
        charts=[_history_chart(history, days)],
    )


def _detail_tables(history, *, days, destinations, exports) -> list[Table]:
    tables = [
        Table(
            "sizes",
            f"Members at the end of each day (last {days} days)",
            ["Date", "Members"],
            [[point["date"], point["size"]] for point in history],
            numeric={"Members"},
        ),
        Table(
            "destinations",
            "Destinations",
            [
                "Destination",
                "Kind",
                "Consent purpose",
                "Channel",
                "Last sent (UTC)",
                "Status",
                "Rows written",
                "Left out for consent",
            ],
            [
                [
                    row["name"],
                    row["kind"],
                    row["purpose"],
                    row["channel"],
                    _when(row["last_sent_at"]),
                    row["status"],
                    row["rows"],
                    row["left_out_for_consent"],
                ]
                for row in destinations
            ],
            numeric={"Rows written", "Left out for consent"},
        ),
        Table(
            "exports",
            "Latest export files",
            [
                "Written (UTC)",
                "Destination",
                "File",
                "Rows",
                "Left out for consent",
                "Sent as",
                "Removed",
            ],
            [
                [
                    _when(export.created_at),
                    export.destination.name,
                    export.path.replace("\\", "/").rsplit("/", 1)[-1],
                    export.rows,
                    export.left_out_for_consent,
                    export.get_mode_display(),
                    export.removed if export.mode == Export.Mode.DELTA else None,
                ]
                for export in exports
            ],
            numeric={"Rows", "Left out for consent", "Removed"},
        ),
    ]
    for table in tables:  # a figure not there yet (None) is an empty cell
        table.rows = [["" if cell is None else cell for cell in row] for row in table.rows]
    return tables


def _history_chart(history: list[dict], days: int) -> Chart:
    figure = go.Figure(
        go.Scatter(
            x=[point["date"] for point in history],
            y=[point["size"] for point in history],
            mode="lines+markers",
            line={"color": "#1f77b4", "width": 2},
            hovertemplate="%{x}: %{y} members<extra></extra>",
        )
    )
    figure.update_layout(xaxis_title="Day (UTC)", yaxis={"title": "Members", "rangemode": "tozero"})
    return Chart("sizes", figure, f"Members at the end of each of the last {days} days.")


class _Line:
    """A file-like sink that hands back what csv.writer writes, for streaming."""

    def write(self, text: str) -> str:
        return text


def _members_csv(segment: Segment, *, personal_data: bool) -> StreamingHttpResponse:
    """Every current member, streamed in chunks (a million rows never sit in memory);
    names and email addresses only for who may see personal data."""
    columns = ["profile_id", "entered_at"] + (["name", "email"] if personal_data else [])

    def lines() -> Iterator[str]:
        writer = csv.writer(_Line())
        yield writer.writerow(columns)
        for pk, entered_at, *contact in all_members(segment, personal_data=personal_data):
            yield writer.writerow([pk, entered_at.isoformat(), *contact])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="segment-{segment.pk}-{slugify(segment.name)}-members.csv"'
    )
    return response


def _audience_csv(segment: Segment, platform: str, *, personal_data: bool) -> StreamingHttpResponse:
    """The full hashed audience for an ad platform, as its upload file (hashed
    identifiers are still personal data: the same permission as the members' emails)."""
    if not personal_data:
        raise PermissionDenied("needs cdp.view_personal_data")
    response = StreamingHttpResponse(
        audience_lines(segment, platform), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="segment-{segment.pk}-{slugify(segment.name)}-{platform}.csv"'
    )
    return response


def _export_file(request: HttpRequest, segment: Segment, *, personal_data: bool) -> FileResponse:
    """A file a delivery wrote (`?file=<export id>`, `&part=removed` for a delta's
    removals), from the destination's folder."""
    if not personal_data:
        raise PermissionDenied("needs cdp.view_personal_data")
    try:
        export = Export.objects.get(pk=int(request.GET["file"]), segment=segment)
    except (ValueError, Export.DoesNotExist):
        raise Http404("file: no such export of this segment") from None
    path = Path(export.removed_path if request.GET.get("part") == "removed" else export.path)
    if not path.name or not path.is_file():
        raise Http404(f"file: {path.name or 'the removed file'} is no longer on the server")
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)


def _send(request: HttpRequest, segment: Segment) -> HttpResponseRedirect:
    """Send now to one of the segment's destinations; the page says what was sent."""
    if not request.user.has_perm(SEND_TO_DESTINATION):
        raise PermissionDenied(f"needs {SEND_TO_DESTINATION}")
    back = HttpResponseRedirect(request.path)
    try:
        destination = segment.destinations.get(pk=int(request.POST.get("send", "")), active=True)
    except (ValueError, Destination.DoesNotExist):
        messages.error(request, "Destination: pick one of this segment's active destinations.")
        return back
    summary = send_now(destination, segment, full=request.POST.get("full") == "1")
    messages.success(request, f"{destination.name}: {summary}")
    return back
