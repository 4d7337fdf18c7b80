"""What every page under /app/ shares: sign-in and permissions, filters kept in the URL
(so the address is the permalink), tables that download as CSV, Plotly charts.

A page view parses its filters, calls selectors that read stored results, and hands
`render_page` its tables and charts. It never recomputes a report in the request.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify

from cdp.charts import figure_has_data

# The permissions behind the pages (see cdp.roles for the groups that hold them).
VIEW_REPORTS = "attribution.view_reports"
VIEW_CUSTOMER_360 = "cdp.view_customer_360"
VIEW_PERSONAL_DATA = "cdp.view_personal_data"


@dataclass
class Table:
    """One table on a page: shown as HTML (sortable) and downloadable as CSV under its
    name (`?download=<name>` on the same address, filters included)."""

    name: str
    caption: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]] = field(default_factory=list)
    # Columns holding numbers: right-aligned and sorted as numbers in the page.
    numeric: set[str] = field(default_factory=set)
    # The currency of its money columns (the goal's); None: OMNITRAIL_CURRENCY.
    currency: str | None = None
    # What the page says where there is no row.
    empty: str = "No data for this range."

    @cached_property
    def numeric_positions(self) -> set[int]:
        return {i for i, column in enumerate(self.columns) if column in self.numeric}


@dataclass
class Chart:
    """A Plotly figure (plotly.graph_objects.Figure or its dict), drawn by plotly.js."""

    name: str
    figure: Any
    caption: str = ""
    empty: str = "No data for this range."

    def as_json(self) -> str:
        return self._json

    @cached_property
    def _json(self) -> str:
        figure = self.figure
        return figure.to_json() if hasattr(figure, "to_json") else _plotly_json(figure)

    @cached_property
    def has_data(self) -> bool:
        """False when nothing would be drawn: the page then says so instead of drawing
        an empty axis."""
        return figure_has_data(json.loads(self._json))


def _plotly_json(figure: dict) -> str:
    import plotly.io

    return plotly.io.to_json(figure, validate=False)


class Link(str):
    """A table cell that is a link on the page and its plain text in the CSV download
    (and for sorting)."""

    url: str

    def __new__(cls, text: object, url: str) -> Link:
        cell = super().__new__(cls, text)
        cell.url = url
        return cell

    def __html__(self) -> str:
        return format_html('<a href="{}">{}</a>', self.url, str(self))


class Amount(str):
    """A table cell of money in its own currency (a customer's order in the currency it
    was paid in): its number in the CSV download and for sorting, written with the
    currency's symbol on the page."""

    currency: str

    def __new__(cls, value: object, currency: str) -> Amount:
        cell = super().__new__(cls, value)
        cell.currency = currency
        return cell


def amount(value: object, currency: str) -> Amount | str:
    """An Amount, or an empty cell where there is no value."""
    return "" if value is None else Amount(value, currency)


def when(at: datetime | None) -> str:
    """A time as the pages show it: local time to the second, sortable as text."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def page_permission(*perms: str) -> Callable:
    """Signed-in users only (others go to the login page); without `perms`, 403."""

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perms(perms):
                raise PermissionDenied(f"needs {', '.join(perms)}")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    title: str,
    tables: Iterable[Table] = (),
    charts: Iterable[Chart] = (),
    invalid: bool = False,
) -> HttpResponse:
    """The page, or one of its tables as CSV when the address asks `?download=<name>`.
    `invalid`: some filter could not be used (the page names it); the answer is then a
    400, unless it is a table that was asked for and sent."""
    tables_by_name = {table.name: table for table in tables}
    wanted = request.GET.get("download")
    if wanted:
        if wanted not in tables_by_name:
            return HttpResponse(
                f"no table named {wanted!r} on this page",
                status=400 if invalid else 404,
                content_type="text/plain",
            )
        return table_csv(tables_by_name[wanted], filename=f"{slugify(title)}-{wanted}.csv")
    charts_by_name = {chart.name: chart for chart in charts}
    return render(
        request,
        template,
        {
            **context,
            "title": title,
            "tables": tables_by_name,
            "charts": charts_by_name,
            "chart_json": {
                name: chart.as_json() for name, chart in charts_by_name.items() if chart.has_data
            },
            "can": {
                "reports": request.user.has_perm(VIEW_REPORTS),
                "customer_360": request.user.has_perm(VIEW_CUSTOMER_360),
                "personal_data": request.user.has_perm(VIEW_PERSONAL_DATA),
                "review": request.user.has_perm("identity.change_matchreview"),
                "unmerge": request.user.has_perm("identity.change_mergedecision"),
                "tracking_plans": request.user.has_perm("cdp.view_trackingplan"),
            },
        },
        status=400 if invalid else 200,
    )


def table_csv(table: Table, *, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return response
