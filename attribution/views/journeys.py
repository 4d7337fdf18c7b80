"""The Journeys page: how customers get to a conversion. Top paths (a Sankey diagram and
a table), path length and time to convert, assisted versus last-touch conversions, the
funnel with its drop-off, and the Pareto curve of revenue, for a goal and a model.

Everything is read from the latest completed attribution run of the goal (its stored
summary and credits), the figures `/api/v1/attribution/reports/...` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.http import HttpRequest, HttpResponse
from plotly import colors
from plotly import graph_objects as go

from attribution.engine.models import DEFAULT_GOAL, DEFAULT_MODEL, MODELS, model_label, pick
from attribution.selectors import latest_run
from attribution.selectors.currency import goal_currency
from attribution.selectors.pages import goal_choices, path_reports
from attribution.selectors.reports import revenue_pareto
from cdp.charts import (
    CONVERSION_COLOUR,
    LATER_TOUCHES_COLOUR,
    LINE,
    NEUTRAL,
    axis,
    channel_colours,
)
from cdp.formatting import channel_colour
from cdp.pages import VIEW_REPORTS, Chart, Table, page_permission, render_page

GROUPINGS = [("channel", "Channel"), ("campaign", "Campaign")]
# Columns of the Sankey diagram: a path's first touches, one column each; the touches
# after these are gathered in one "later touches" node so long paths stay readable.
SANKEY_STEPS = 5


class JourneyFilters(forms.Form):
    goal = forms.ChoiceField(label="Goal")
    model = forms.ChoiceField(label="Model (for the Pareto curve)")
    group_by = forms.ChoiceField(label="Pareto by", choices=GROUPINGS)

    def __init__(self, data, *, goals: list[tuple[str, str]]):
        super().__init__(data)
        cast(forms.ChoiceField, self.fields["goal"]).choices = goals
        cast(forms.ChoiceField, self.fields["model"]).choices = [
            (key, model_label(key)) for key in MODELS
        ]


@page_permission(VIEW_REPORTS)
def journeys_page(request: HttpRequest) -> HttpResponse:
    goals = goal_choices()
    # The API's defaults: purchase (or the first goal there is), linear, by channel.
    defaults = {
        "goal": pick("", [key for key, _ in goals], DEFAULT_GOAL) or DEFAULT_GOAL,
        "model": DEFAULT_MODEL,
        "group_by": "channel",
    }
    form = JourneyFilters(
        {name: request.GET.get(name) or default for name, default in defaults.items()},
        goals=goals,
    )
    if not form.is_valid():
        return render_page(
            request, "app/journeys.html", {"form": form}, title="Journeys", invalid=True
        )
    chosen = form.cleaned_data
    run = latest_run(chosen["goal"])
    context: dict[str, Any] = {"form": form, "run": run, "goal": dict(goals)[chosen["goal"]]}
    if run is None:
        return render_page(request, "app/journeys.html", context, title="Journeys")

    reports = path_reports(run)
    view = revenue_pareto(run, model=chosen["model"], group_by=chosen["group_by"])
    grouping = dict(GROUPINGS)[chosen["group_by"]].lower()
    currency = goal_currency(run.goal)
    context |= {
        "currency": currency,
        "reports": reports,
        "pareto": view,
        "grouping": grouping,
        "model_name": model_label(chosen["model"]),
    }
    tables = [
        _paths_table(reports["top_paths"], run),
        _lengths_table(reports["path_lengths"]),
        _time_table(reports["time_to_convert"]),
        _assisted_table(reports["assisted"]),
        _funnel_table(reports["funnel"]),
        _pareto_table(view, chosen["group_by"]),
    ]
    for table in tables:
        table.rows = _cells(table.rows)
        table.currency = currency
    charts = [
        _sankey_chart(reports["top_paths"]),
        _lengths_chart(reports["path_lengths"]),
        _time_chart(reports["time_to_convert"]),
        _assisted_chart(reports["assisted"]),
        _funnel_chart(reports["funnel"]),
        _pareto_chart(view, chosen["group_by"]),
    ]
    return render_page(
        request, "app/journeys.html", context, title="Journeys", tables=tables, charts=charts
    )


def _cells(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows for a table: a figure that does not exist (None) is an empty cell."""
    return [["" if cell is None else cell for cell in row] for row in rows]


def _percent(part: float | None, whole: float | None = 1.0) -> float | None:
    """A share as a percentage with one decimal, None where it does not exist."""
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


# --- Tables (shown and downloadable as CSV) ----------------------------------------------


def _paths_table(top_paths: list[dict], run) -> Table:
    return Table(
        "paths",
        "Top conversion paths",
        ["Path", "Touches", "Conversions", "Revenue", "Revenue per conversion", "Share (%)"],
        [
            [
                row["path"],
                row["path"].count(" > ") + 1,
                row["conversions"],
                row["value"],
                round(row["value"] / row["conversions"], 2) if row["conversions"] else None,
                _percent(row["conversions"], run.conversions),
            ]
            for row in top_paths
        ],
        numeric={"Touches", "Conversions", "Revenue", "Revenue per conversion", "Share (%)"},
    )


def _lengths_table(path_lengths: dict) -> Table:
    distribution = _by_number(path_lengths["distribution"])
    total = sum(distribution.values())
    return Table(
        "path_lengths",
        "Touches before converting",
        ["Touches", "Conversions", "Share (%)"],
        [[length, n, _percent(n, total)] for length, n in distribution.items()],
        numeric={"Touches", "Conversions", "Share (%)"},
    )


def _by_number(distribution: dict) -> dict[int, int]:
    """A stored distribution (JSON keys are text) ordered by its numeric keys."""
    return {int(key): value for key, value in sorted(distribution.items(), key=lambda i: int(i[0]))}


TIME_FIGURES = [("median_days", "Median"), ("mean_days", "Mean"), ("p90_days", "90th percentile")]


def _time_table(time_to_convert: dict) -> Table:
    rows = [[label, time_to_convert.get(key)] for key, label in TIME_FIGURES]
    distribution = time_to_convert.get("distribution")
    if distribution:  # runs that store whole days from first touch to conversion
        rows += [[f"{day} to {day + 1} days", n] for day, n in _by_number(distribution).items()]
    return Table(
        "time_to_convert",
        "Days from first touch to conversion",
        ["Figure", "Days (or conversions)"] if distribution else ["Figure", "Days"],
        rows,
        numeric={"Days", "Days (or conversions)"},
    )


def _assisted_table(assisted: list[dict]) -> Table:
    return Table(
        "assisted",
        "Assisted and last-touch conversions per channel",
        ["Channel", "Last-touch conversions", "Assisted conversions", "Assisted per last touch"],
        [
            [
                row["channel"],
                row["last_touch_conversions"],
                row["assisted_conversions"],
                row["assisted_per_last_touch"],
            ]
            for row in assisted
        ],
        numeric={"Last-touch conversions", "Assisted conversions", "Assisted per last touch"},
    )


def _funnel_table(stages: list[dict]) -> Table:
    return Table(
        "funnel",
        "Funnel: profiles reaching each stage",
        ["Stage", "Profiles", "From the stage before (%)", "Drop-off (%)", "Of the first (%)"],
        [
            [
                row["stage"],
                row["profiles"],
                _percent(row["conversion_rate"]),
                _percent(row["drop_off"]),
                _percent(row["share_of_first"]),
            ]
            for row in stages
        ],
        numeric={"Profiles", "From the stage before (%)", "Drop-off (%)", "Of the first (%)"},
    )


def _pareto_table(view: dict, group_by: str) -> Table:
    keys = ["channel"] if group_by == "channel" else ["channel", "campaign"]
    labels = ["Channel"] if group_by == "channel" else ["Channel", "Campaign"]
    return Table(
        "pareto",
        f"Revenue by {group_by}, largest first",
        [*labels, "Revenue", "Share (%)", "Cumulative share (%)"],
        [
            [
                *(row[key] for key in keys),
                row["revenue"],
                _percent(row["share"]),
                _percent(row["cumulative_share"]),
            ]
            for row in view["rows"]
        ],
        numeric={"Revenue", "Share (%)", "Cumulative share (%)"},
    )


# --- Charts ----------------------------------------------------------------------------

# A category label longer than this is shown cut with "…" on the axis (the whole name is
# in the hover and the table): "Paid Search / spring-sale-2026-brand-terms" would otherwise
# take half a phone's screen.
LABEL_CHARACTERS = 24


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _sankey_chart(top_paths: list[dict]) -> Chart:
    """Nodes are a channel at a step (step 1 = the first touch); each top path adds its
    conversions to the links it follows, and ends in "Conversion"."""
    nodes: dict[tuple[int, str], int] = {}
    links: dict[tuple[int, int], int] = {}

    def node(step: int, label: str) -> int:
        return nodes.setdefault((step, label), len(nodes))

    for row in top_paths:
        channels = row["path"].split(" > ")
        if len(channels) > SANKEY_STEPS:
            channels = [*channels[:SANKEY_STEPS], "Later touches"]
        steps = [node(step, channel) for step, channel in enumerate(channels, start=1)]
        steps.append(node(0, "Conversion"))  # one node every path ends in
        for source, target in zip(steps, steps[1:], strict=False):
            links[(source, target)] = links.get((source, target), 0) + row["conversions"]

    labels = [label for _, label in nodes]
    colour = {label: channel_colour(label) for label in labels}
    colour["Conversion"] = CONVERSION_COLOUR
    colour["Later touches"] = LATER_TOUCHES_COLOUR
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "customdata": [
                    "" if label == "Conversion" else f"(step {step})" for step, label in nodes
                ],
                "hovertemplate": "%{label} %{customdata}: %{value} conversions<extra></extra>",
                "color": [colour[label] for label in labels],
                "pad": 14,
            },
            link={
                "source": [source for source, _ in links],
                "target": [target for _, target in links],
                "value": list(links.values()),
                "color": [_faded(colour[labels[source]]) for source, _ in links],
            },
        )
    )
    figure.update_layout(height=420, font={"size": 12}, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    return Chart(
        "paths",
        figure,
        f"The top {len(top_paths)} conversion paths, step by step: each band is conversions "
        f"moving from one touch to the next (touches after step {SANKEY_STEPS} are gathered).",
    )


def _faded(colour: str) -> str:
    """The colour at 35% opacity, for links under their source node's colour."""
    red, green, blue = colors.hex_to_rgb(colour) if colour.startswith("#") else _rgb(colour)
    return f"rgba({red}, {green}, {blue}, 0.35)"


def _rgb(colour: str) -> tuple[int, int, int]:
    red, green, blue = colors.unlabel_rgb(colour)
    return int(red), int(green), int(blue)


def _lengths_chart(path_lengths: dict) -> Chart:
    distribution = _by_number(path_lengths["distribution"])
    figure = go.Figure(
        go.Bar(
            x=[str(length) for length in distribution],
            y=list(distribution.values()),
            marker_color=NEUTRAL,
            hovertemplate="%{x} touches: %{y} conversions<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis=axis("Touches before converting", type="category"), yaxis=axis("Conversions")
    )
    mean = path_lengths.get("mean")
    return Chart(
        "path_lengths",
        figure,
        "Conversions by the number of touches before them"
        + (f" (mean {mean} touches)." if mean is not None else "."),
    )


def _time_chart(time_to_convert: dict) -> Chart:
    distribution = time_to_convert.get("distribution")
    if distribution:
        days = _by_number(distribution)
        figure = go.Figure(
            go.Bar(
                x=[str(day) for day in days],
                y=list(days.values()),
                marker_color=NEUTRAL,
                hovertemplate="%{x} days: %{y} conversions<extra></extra>",
            )
        )
        figure.update_layout(
            xaxis=axis("Whole days from first touch", type="category"),
            yaxis=axis("Conversions"),
        )
        caption = "Conversions by whole days from the first touch to the conversion."
    else:
        figure = go.Figure(
            go.Bar(
                x=[label for _, label in TIME_FIGURES],
                y=[time_to_convert.get(key) for key, _ in TIME_FIGURES],
                marker_color=NEUTRAL,
                hovertemplate="%{x}: %{y} days<extra></extra>",
            )
        )
        figure.update_layout(yaxis=axis("Days from first touch to conversion"))
        caption = (
            "Days from the first touch to the conversion: median, mean and 90th percentile "
            "(the run stores these figures, not each journey's days)."
        )
    return Chart("time_to_convert", figure, caption)


def _assisted_chart(assisted: list[dict]) -> Chart:
    channels = [row["channel"] for row in assisted]
    colours = channel_colours(channels)
    figure = go.Figure(
        [
            go.Bar(
                name="Last touch (solid)",
                x=channels,
                y=[row["last_touch_conversions"] for row in assisted],
                marker={"color": colours},
            ),
            go.Bar(
                name="Assisted (hatched)",
                x=channels,
                y=[row["assisted_conversions"] for row in assisted],
                marker={
                    "color": colours,
                    "opacity": 0.6,
                    "pattern": {"shape": "/", "fgcolor": "#ffffff"},
                },
            ),
        ]
    )
    figure.update_layout(
        barmode="group",
        xaxis=axis("Channel", type="category"),
        yaxis=axis("Conversions"),
        legend={"orientation": "h", "y": -0.3},
    )
    return Chart(
        "assisted",
        figure,
        "Per channel, in its colour: conversions it closed (the last touch, solid) and "
        "conversions it helped earlier in the journey (hatched).",
    )


def _funnel_chart(stages: list[dict]) -> Chart:
    figure = go.Figure(
        go.Funnel(
            y=[row["stage"] for row in stages],
            x=[row["profiles"] for row in stages],
            textinfo="value+percent previous",
            marker_color=NEUTRAL,
        )
    )
    figure.update_layout(margin={"l": 110})
    return Chart(
        "funnel",
        figure,
        "Profiles reaching each funnel stage, and the share of the stage before that did.",
    )


def _pareto_chart(view: dict, group_by: str) -> Chart:
    rows = view["rows"]
    names = [
        row["channel"] if group_by == "channel" else f"{row['channel']} / {row['campaign']}"
        for row in rows
    ]
    figure = go.Figure(
        [
            go.Bar(
                name="Share of revenue (in the channel's colour)",
                x=names,
                y=[row["share"] for row in rows],
                hovertemplate="%{x}: %{y:.1%} of the revenue<extra></extra>",
                marker_color=channel_colours(row["channel"] for row in rows),
            ),
            go.Scatter(
                name="Cumulative share",
                x=names,
                y=[row["cumulative_share"] for row in rows],
                mode="lines+markers",
                line={"color": LINE},
            ),
        ]
    )
    figure.add_hline(y=0.8, line_dash="dot", line_color=LINE, annotation_text="80%")
    figure.update_layout(
        xaxis=axis(
            group_by.capitalize(),
            type="category",
            tickmode="array",
            tickvals=names,
            ticktext=[_short(name) for name in names],
        ),
        yaxis=axis("Share of credited revenue", tickformat=".0%", range=[0, 1.05]),
        legend={"orientation": "h", "y": -0.3},
    )
    needed = view["rows_for_share"]
    return Chart(
        "pareto",
        figure,
        (
            f"{needed} of {len(rows)} {group_by}s bring 80% of the credited revenue."
            if needed
            else f"Revenue by {group_by}: no credited revenue yet."
        ),
    )
