"""The report pages: the overview (the monthly cross-channel report) and attribution (the
models side by side, per campaign, the budget advice and the holdout lift).

Both read what the goal's latest completed attribution run stored (its summary and its
Credit rows) plus the small cost table; nothing is recomputed from touchpoints in the
request. Filters are GET parameters, so the address is the permalink; a bad one gives
the page back with status 400 and the field named.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse

from attribution.engine.comparison import POSITIONS, compare_models
from attribution.engine.models import (
    DEFAULT_GOAL,
    DEFAULT_GUARDRAIL,
    DEFAULT_MODEL,
    model_label,
    pick,
)
from attribution.errors import InvalidGuardrail, NoMonthlyFigures, NothingToAdvise
from attribution.models import AttributionRun
from attribution.selectors import model_comparison
from attribution.selectors.currency import goal_currency
from attribution.selectors.monthly import monthly_report
from attribution.selectors.performance import channel_performance
from attribution.selectors.reports import (
    budget_report,
    compare_report,
    credit_reports,
    parse_guardrail,
    path_positions_report,
    return_on_spend_by_model,
)
from attribution.selectors.runs import goals_with_runs, latest_run
from cdp.charts import LINE, NEUTRAL, axis, money_axis
from cdp.errors import InvalidField
from cdp.formatting import channel_colour
from cdp.pages import VIEW_REPORTS, Chart, Table, page_permission, render_page

MEASURES = {"revenue": "Revenue", "conversions": "Conversions"}
# Rows drawn on the page, so that it renders in well under a second whatever the run
# covers; the CSV downloads have them all.
CAMPAIGNS_SHOWN = 100
MONTHS_SHOWN_PER_CHANNEL = 6  # the channel x month table: the range's last months
# A horizontal legend: Plotly puts it under the axis labels, and it wraps on a phone.
LEGEND_BELOW = {"orientation": "h"}


@dataclass
class RunChoice:
    """The goal and run the page reports on, what the filters offer, what was wrong."""

    goals: list
    goal: str | None = None
    run: AttributionRun | None = None
    model: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    currency: str | None = None  # the goal's (its conversions')

    @property
    def models(self) -> list[str]:
        return list(self.run.models_run) if self.run else []


def choose_run(request: HttpRequest) -> RunChoice:
    """?goal= (a goal with a completed run; default purchase) and ?model= (one the run
    has; default linear, the API's too, so that an address without ?model= shows what
    /api/v1/attribution/reports/... without it returns). The run is read without its
    summary: each page reads what it shows of it."""
    choice = RunChoice(goals=goals_with_runs())
    keys = [goal.key for goal in choice.goals]
    asked = request.GET.get("goal", "").strip()
    if asked and asked not in keys:
        offered = ", ".join(keys) or "none yet"
        choice.errors["goal"] = (
            f"no completed attribution run for {asked!r} (goals with one: {offered})"
        )
    choice.goal = pick(asked, keys, DEFAULT_GOAL)
    choice.run = latest_run(choice.goal, summary=False) if choice.goal else None
    asked = request.GET.get("model", "").strip()
    if asked and choice.run and asked not in choice.models:
        choice.errors["model"] = (
            f"{asked!r} is not in this run (its models: {', '.join(choice.models)})"
        )
    choice.model = pick(asked, choice.models, DEFAULT_MODEL)
    choice.currency = goal_currency(choice.run.goal if choice.run else choice.goal)
    return choice


def respond(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    title: str,
    errors: dict[str, str],
    tables=(),
    charts=(),
    currency: str | None = None,
) -> HttpResponse:
    """The page; with bad filters, the page with the errors and status 400. Money in the
    tables is written in `currency` (the goal's)."""
    for table in tables:
        table.currency = table.currency or currency
    if errors and request.GET.get("download"):
        message = "; ".join(f"{name}: {text}" for name, text in errors.items())
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    return render_page(
        request,
        template,
        {**context, "errors": errors, "currency": currency},
        title=title,
        tables=tables if not errors else (),
        charts=charts if not errors else (),
        invalid=bool(errors),
    )


def _percent(share):
    return None if share is None else round(share * 100, 1)


def _blank(value):
    """None as an empty cell (not the word None), in the page and the CSV."""
    return "" if value is None else value


# --- Overview ---------------------------------------------------------------------------


@page_permission(VIEW_REPORTS)
def overview(request: HttpRequest) -> HttpResponse:
    """The monthly cross-channel report: per channel and month touchpoints, profiles,
    conversions, revenue, cost and ROAS with their change, the top movers, identified
    and anonymous profiles, and those left out for consent."""
    choice = choose_run(request)
    errors = dict(choice.errors)
    start = request.GET.get("start", "").strip()
    end = request.GET.get("end", "").strip()
    report, notice = None, ""
    if choice.run is None:
        notice = "No attribution run has completed yet: run refresh_attribution."
    elif not errors and choice.model:  # a run always has a model
        try:
            report = monthly_report(
                choice.run, model=choice.model, start=start or None, end=end or None
            )
        except NoMonthlyFigures as error:
            notice = error.message
        except InvalidField as error:
            errors[error.field] = error.message
    complete = request.GET.get("download") == "channel_months"
    tables, charts, notes = (
        overview_figures(report, complete=complete, currency=choice.currency)
        if report
        else ([], [], {})
    )
    if report and report["months"] and choice.run is not None and choice.model:
        performance = channel_performance(
            choice.run, model=choice.model, start=report["start"], end=report["end"]
        )
        tables += performance_tables(
            performance, notes, complete=request.GET.get("download") == "performance"
        )
    return respond(
        request,
        "app/overview.html",
        {
            "choice": choice,
            "report": report,
            "notice": notice,
            "notes": notes,
            "start": (report["start"] or "") if report else start,
            "end": (report["end"] or "") if report else end,
            "identified_percent": _percent(report["totals"]["identified_share"])
            if report
            else None,
            "model_label": model_label(choice.model or ""),
            "model_options": [(name, model_label(name)) for name in choice.models],
        },
        title="Overview",
        errors=errors,
        currency=choice.currency,
        tables=tables,
        charts=charts,
    )


FIGURES = ("touchpoints", "profiles", "conversions", "revenue", "cost", "roas")
FIGURE_COLUMNS = ("Touchpoints", "Profiles", "Conversions", "Revenue", "Cost", "ROAS")


def _with_changes(row: dict) -> list:
    """Each figure followed by its change from the month before."""
    cells = []
    for name in FIGURES:
        cells += [_blank(row[name]), _blank(row["change"][name])]
    return cells


def overview_figures(report: dict, *, complete: bool = False, currency: str | None = None):
    """The overview's tables and chart, and notes on what the page leaves to the CSV."""
    notes = {}
    with_changes = [c for column in FIGURE_COLUMNS for c in (column, f"{column} change")]
    span = f"{report['start']} to {report['end']}" if report["months"] else "no months"
    channels = Table(
        "channels",
        f"Per channel, {span}",
        ["Channel", *FIGURE_COLUMNS, "Note"],
        [
            [row["channel"], *(_blank(row[name]) for name in FIGURES), row.get("note", "")]
            for row in report["by_channel"]
        ],
        numeric=set(FIGURE_COLUMNS),
    )
    months = Table(
        "months",
        "Per month, all channels, with the change from the month before",
        ["Month", *with_changes, "Identified profiles", "Anonymous profiles"],
        [
            [
                row["month"],
                *_with_changes(row),
                row["identified_profiles"],
                row["anonymous_profiles"],
            ]
            for row in report["by_month"]
        ],
        numeric={*with_changes, "Identified profiles", "Anonymous profiles"},
    )
    cells = report["by_channel_month"]
    if not complete and len(report["months"]) > MONTHS_SHOWN_PER_CHANNEL:
        recent = report["months"][-MONTHS_SHOWN_PER_CHANNEL:]
        cells = [row for row in cells if row["month"] in recent]
        notes["channel_months"] = (
            f"The last {MONTHS_SHOWN_PER_CHANNEL} months of the range, {recent[0]} to "
            f"{recent[-1]}; the CSV has every month."
        )
    channel_months = Table(
        "channel_months",
        "Per channel and month, with the change from the month before",
        ["Month", "Channel", *with_changes],
        [[row["month"], row["channel"], *_with_changes(row)] for row in cells],
        numeric=set(with_changes),
    )
    movers = report["top_movers"]
    mover_columns = [
        "Revenue before",
        "Revenue after",
        "Revenue change",
        "Revenue change %",
        "Conversions before",
        "Conversions after",
        "Conversions change",
    ]
    top_movers = Table(
        "movers",
        f"Top movers, {movers['from']} to {movers['to']}"
        if movers["from"]
        else "Top movers (needs two months in the range)",
        ["Channel", "Direction", *mover_columns],
        [
            [
                row["channel"],
                direction,
                row["revenue_before"],
                row["revenue_after"],
                row["revenue_change"],
                _blank(row["revenue_change_percent"]),
                row["conversions_before"],
                row["conversions_after"],
                row["conversions_change"],
            ]
            for direction, rows in (("up", movers["up"]), ("down", movers["down"]))
            for row in rows
        ],
        numeric=set(mover_columns),
    )
    revenue = {(row["channel"], row["month"]): row["revenue"] for row in report["by_channel_month"]}
    figure = go.Figure(
        [
            go.Bar(
                name=row["channel"],
                x=report["months"],
                y=[revenue.get((row["channel"], month), 0.0) for month in report["months"]],
                marker_color=channel_colour(row["channel"]),
            )
            for row in report["by_channel"]
        ]
    )
    figure.update_layout(
        barmode="stack",
        xaxis=axis("Month of the conversion", type="category"),
        yaxis=money_axis("Credited revenue", currency),
        legend={**LEGEND_BELOW, "title": {"text": "Channel"}},
    )
    chart = Chart(
        "revenue",
        figure,
        f"Revenue credited by the {model_label(report['model'])} model, per channel and month",
    )
    return [channels, months, channel_months, top_movers], [chart], notes


# --- Attribution ------------------------------------------------------------------------


@page_permission(VIEW_REPORTS)
def attribution_page(request: HttpRequest) -> HttpResponse:
    """The models side by side per channel and per campaign, the budget advice within
    its guardrail (for ?model=), and the holdout lift with its confidence interval."""
    choice = choose_run(request)
    errors = dict(choice.errors)
    measure = request.GET.get("measure", "").strip() or "revenue"
    if measure not in MEASURES:
        errors["measure"] = f"{measure!r} is not one of {', '.join(MEASURES)}"
    guardrail_text = request.GET.get("guardrail", "").strip()
    try:
        guardrail = parse_guardrail(guardrail_text)
    except InvalidGuardrail as error:
        errors[error.field] = error.message
        guardrail = DEFAULT_GUARDRAIL
    compare = _compare_model(request, choice, errors)
    campaign_models = _campaign_models(request, choice, compare, errors)
    tables, charts, notes = [], [], {}
    notice = ""
    if choice.run is None:
        notice = "No attribution run has completed yet: run refresh_attribution."
    elif not errors and choice.model:  # a run always has a model
        tables, charts, notes = attribution_figures(
            request,
            choice.run,
            model=choice.model,
            measure=measure,
            guardrail=guardrail,
            currency=choice.currency,
            campaign_models=campaign_models,
        )
        tables += comparison_tables(choice.run, model=choice.model, compare=compare, notes=notes)
    return respond(
        request,
        "app/attribution.html",
        {
            "choice": choice,
            "notice": notice,
            "notes": notes,
            "measure": measure,
            "measures": MEASURES,
            "guardrail": guardrail_text or DEFAULT_GUARDRAIL,
            "guardrail_points": round(guardrail * 100, 2),
            "model_label": model_label(choice.model or ""),
            "model_options": [(name, model_label(name)) for name in choice.models],
            "compare": compare,
            "compare_label": model_label(compare or ""),
            "campaign_models": campaign_models,
            "campaign_labels": [model_label(name) for name in campaign_models],
        },
        title="Attribution",
        errors=errors,
        currency=choice.currency,
        tables=tables,
        charts=charts,
    )


def attribution_figures(
    request, run, *, model, measure, guardrail, currency=None, campaign_models=()
):
    """The attribution page's tables and charts, and notes on what they leave out."""
    models = list(run.models_run)
    labels = [model_label(name) for name in models]
    notes: dict[str, str] = {}
    side_by_side, models_chart = _models_figures(run, models, labels, measure, currency)
    campaigns = _campaigns_table(
        run,
        list(campaign_models) or [model],
        notes,
        complete=request.GET.get("download") == "campaigns",
    )
    budget = _budget_table(run, model, guardrail, notes)
    lift_table, lift_chart = _holdout_figures(run, notes)
    return [side_by_side, campaigns, budget, lift_table], [models_chart, lift_chart], notes


def _models_figures(run, models: list[str], labels: list[str], measure: str, currency: str):
    """Per channel, what each model credits: a table, and a bar per model split into
    its channels (each in the channel's colour, as on every page)."""
    by_channel = model_comparison(run)
    table = Table(
        "models",
        f"{MEASURES[measure]} credited per channel, model by model",
        ["Channel", *labels],
        [
            [row["channel"], *(_credited(row, name, measure) for name in models)]
            for row in by_channel
        ],
        numeric=set(labels),
    )
    bars = go.Figure(
        [
            go.Bar(
                name=row["channel"],
                x=labels,
                y=[row.get(name, {}).get(measure, 0.0) for name in models],
                marker_color=channel_colour(row["channel"]),
            )
            for row in by_channel
        ]
    )
    bars.update_layout(
        barmode="stack",
        xaxis=axis("Attribution model", type="category"),
        yaxis=money_axis("Credited revenue", currency)
        if measure == "revenue"
        else axis("Credited conversions"),
        legend={**LEGEND_BELOW, "title": {"text": "Channel"}},
    )
    chart = Chart(
        "models",
        bars,
        f"{MEASURES[measure]} each model credits to each channel: one bar per model, "
        "split into its channels",
    )
    return table, chart


def _campaigns_table(run, models: list[str], notes: dict, *, complete: bool) -> Table:
    """Per campaign, what it cost, and the conversions, revenue and ROAS each of the
    models picked credits (the page shows the CAMPAIGNS_SHOWN with the most revenue
    under the first of them, the CSV all). Two or three models side by side keep the
    ROAS in view on a laptop's screen; every model at once made 18 columns."""
    reports = credit_reports(run, models=models, group_by="campaign")
    lines: dict[tuple, dict] = {}
    for name in models:
        for row in reports[name]:
            line = lines.setdefault(
                (row["channel"], row["campaign"]),
                {"channel": row["channel"], "campaign": row["campaign"], "cost": row["cost"]},
            )
            line[name] = row
    ordered = sorted(
        lines.values(),
        key=lambda line: (-line.get(models[0], {}).get("revenue", 0.0), line["channel"]),
    )
    if not complete and len(ordered) > CAMPAIGNS_SHOWN:
        notes["campaigns"] = (
            f"The {CAMPAIGNS_SHOWN} campaigns with the most credited revenue of "
            f"{len(ordered)}; the CSV has them all."
        )
        ordered = ordered[:CAMPAIGNS_SHOWN]
    columns = [
        f"{model_label(name)} {what}"
        for name in models
        for what in ("conversions", "revenue", "ROAS")
    ]

    def cells(line: dict) -> list:
        out = []
        for name in models:
            row = line.get(name, {})
            out += [
                round(row.get("conversions", 0.0), 4),
                round(row.get("revenue", 0.0), 2),
                _blank(_rounded(row.get("roas"), 2)),
            ]
        return out

    labels = ", ".join(model_label(name) for name in models)
    return Table(
        "campaigns",
        f"Per campaign: cost, and the conversions, revenue and ROAS credited by {labels}",
        ["Channel", "Campaign", "Cost", *columns],
        [
            [line["channel"], line["campaign"] or "(none)", line["cost"], *cells(line)]
            for line in ordered
        ],
        numeric={"Cost", *columns},
    )


BUDGET_COLUMNS = [
    "Current share %",
    "Proposed share %",
    "Change (points)",
    "Marginal ROAS",
    "Elasticity",
    "Expected revenue now",
    "Expected revenue proposed",
    "Expected effect",
]


def _budget_table(run, model: str, guardrail: float, notes: dict) -> Table:
    try:
        advice = budget_report(run, model=model, guardrail=guardrail)
    except NothingToAdvise as error:  # costs recorded, but nothing spent
        notes["budget"] = error.message
        advice = []
    return Table(
        "budget",
        f"Budget advice from the {model_label(model)} model, each share moving at most "
        f"{guardrail * 100:g} points",
        ["Channel", *BUDGET_COLUMNS, "Curve fitted"],
        [
            [
                row["channel"],
                round(row["current_share"] * 100, 2),
                round(row["proposed_share"] * 100, 2),
                round(row["change_points"], 2),
                _blank(_rounded(row["marginal_roas"], 4)),
                _blank(_rounded(row["elasticity"], 3)),
                round(row["expected_revenue_current"], 2),
                round(row["expected_revenue_proposed"], 2),
                round(row["expected_effect"], 2),
                "yes" if row["curve_fitted"] else "no (default curve)",
            ]
            for row in advice
        ],
        numeric=set(BUDGET_COLUMNS),
    )


HOLDOUT_COLUMNS = [
    "Held out %",
    "Exposed profiles",
    "Exposed conversions",
    "Exposed rate %",
    "Held-out profiles",
    "Held-out conversions",
    "Held-out rate %",
    "Lift (points)",
    "Lift low",
    "Lift high",
    "Relative lift %",
    "Relative lift low %",
    "Relative lift high %",
    "p-value",
    "Incremental conversions",
    "Markov credited conversions",
]


def _holdout_figures(run, notes: dict):
    """The holdout lift: a table, and each lift with its confidence interval."""
    holdouts = (run.summary or {}).get("holdouts", [])
    table = Table(
        "holdouts",
        "Holdout lift: exposed against held-out profiles, with the 95% confidence interval",
        ["Holdout", *HOLDOUT_COLUMNS, "Note"],
        [_holdout_row(row) for row in holdouts],
        numeric=set(HOLDOUT_COLUMNS),
    )
    measured = [row for row in holdouts if "difference" in row]
    figure = go.Figure(
        go.Scatter(
            x=[row["holdout"] for row in measured],
            y=[_points(row["difference"]) for row in measured],
            mode="markers",
            marker={"size": 12, "color": NEUTRAL},
            name="Lift",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [_gap(row["difference"], row["difference_high"]) for row in measured],
                "arrayminus": [_gap(row["difference_low"], row["difference"]) for row in measured],
            },
        )
    )
    figure.add_hline(y=0, line_dash="dot", line_color=LINE)
    figure.update_layout(
        xaxis=axis("Holdout", type="category"),
        yaxis=axis("Conversion rate lift (percentage points)"),
        showlegend=False,
    )
    chart = Chart(
        "lift",
        figure,
        "Conversion rate of the exposed minus the held-out profiles, in percentage points, "
        "with its 95% confidence interval",
    )
    if holdouts and not measured:
        notes["holdouts"] = "No holdout has both an exposed and a held-out group yet."
    return table, chart


def _credited(row: dict, model: str, measure: str) -> float:
    """What `model` credited in a model_comparison row: conversions to 4 decimals (the
    selector keeps 6), revenue to the cent."""
    value = row.get(model, {}).get(measure, 0.0)
    return round(value, 4 if measure == "conversions" else 2)


def _rounded(value, digits):
    return None if value is None else round(value, digits)


def _points(share):
    return None if share is None else round(share * 100, 3)


def _gap(low, high):
    """From one share to another, in points (an error bar's length); None if unknown."""
    return None if low is None or high is None else _points(high - low)


def _holdout_row(row: dict) -> list:
    return [
        row["holdout"],
        row["percent"],
        row["exposed_profiles"],
        row["exposed_conversions"],
        _blank(_points(row.get("exposed_rate"))),
        row["holdout_profiles"],
        row["holdout_conversions"],
        _blank(_points(row.get("holdout_rate"))),
        _blank(_points(row.get("difference"))),
        _blank(_points(row.get("difference_low"))),
        _blank(_points(row.get("difference_high"))),
        _blank(_points(row.get("relative_lift"))),
        _blank(_points(row.get("relative_lift_low"))),
        _blank(_points(row.get("relative_lift_high"))),
        _blank(_rounded(row.get("p_value"), 4)),
        _blank(_rounded(row.get("incremental_conversions"), 2)),
        _blank(row.get("markov_credited_conversions")),
        row.get("error", ""),
    ]


# --- Return on spend and the model comparison (the attribution page) ------------------

# The second model of the comparison when none is asked for: GA4 compares its
# data-driven model with last click.
DEFAULT_COMPARE = ("last_touch", "first_touch")


def _compare_model(request: HttpRequest, choice: RunChoice, errors: dict) -> str | None:
    """?compare=: the model compared with ?model= (one the run has)."""
    asked = request.GET.get("compare", "").strip()
    if asked and choice.run and asked not in choice.models:
        errors["compare"] = f"{asked!r} is not in this run (its models: {', '.join(choice.models)})"
    default = next((m for m in DEFAULT_COMPARE if m != choice.model), DEFAULT_COMPARE[0])
    return pick(asked, choice.models, default)


def _campaign_models(
    request: HttpRequest, choice: RunChoice, compare: str | None, errors: dict
) -> list[str]:
    """?campaign_models= (repeated): the models whose credit the campaign table shows,
    each one the run has; by default the two the page compares."""
    asked = [name.strip() for name in request.GET.getlist("campaign_models") if name.strip()]
    unknown = [name for name in asked if choice.run and name not in choice.models]
    if unknown:
        errors["campaign_models"] = (
            f"{', '.join(repr(n) for n in unknown)} not in this run "
            f"(its models: {', '.join(choice.models)})"
        )
    picked = [name for name in asked if name in choice.models]
    if not picked:
        picked = [name for name in (choice.model, compare) if name]
    return list(dict.fromkeys(picked))


ROS_COLUMNS = [
    "Paid revenue",
    "Paid cost",
    "Paid ROAS",
    "All revenue",
    "All cost",
    "Blended MER",
]


def _ros_cells(ros: dict) -> list:
    return [
        ros["paid_revenue"],
        ros["paid_cost"],
        _blank(_rounded(ros["paid_roas"], 2)),
        ros["revenue"],
        ros["cost"],
        _blank(_rounded(ros["mer"], 2)),
    ]


def comparison_tables(run, *, model: str, compare: str | None, notes: dict) -> list[Table]:
    """Paid ROAS and blended MER per model; the two models compared per channel and per
    campaign with the % change; early, middle and late touches under each."""
    ros = Table(
        "return_on_spend",
        "Return on spend per model: paid ROAS (revenue credited to the channels with cost / "
        "their cost) and blended MER (all revenue credited / all cost)",
        ["Model", *ROS_COLUMNS],
        [[model_label(row["model"]), *_ros_cells(row)] for row in return_on_spend_by_model(run)],
        numeric=set(ROS_COLUMNS),
    )
    tables = [ros]
    if compare is None:
        return tables
    first, second = model_label(model), model_label(compare)
    columns = [
        f"Conversions ({first})",
        f"Conversions ({second})",
        "Conversions change %",
        f"Revenue ({first})",
        f"Revenue ({second})",
        "Revenue change %",
        "Cost",
        f"ROAS ({first})",
        f"ROAS ({second})",
        "ROAS change %",
    ]

    def cells(row: dict) -> list:
        return [
            round(row["conversions_first"], 2),
            round(row["conversions_second"], 2),
            _blank(row["conversions_change_percent"]),
            row["revenue_first"],
            row["revenue_second"],
            _blank(row["revenue_change_percent"]),
            row["cost"],
            _blank(_rounded(row["roas_first"], 2)),
            _blank(_rounded(row["roas_second"], 2)),
            _blank(row["roas_change_percent"]),
        ]

    by_channel = compare_report(run, model=model, compare=compare)["rows"]
    lines = credit_reports(run, models=[model, compare], group_by="campaign")
    by_campaign = compare_models(lines[model], lines[compare], keys=["channel", "campaign"])
    tables.append(
        Table(
            "compare",
            f"Model comparison per channel: {first} against {second}, with the % change "
            f"from the first to the second",
            ["Channel", *columns],
            [[row["channel"], *cells(row)] for row in by_channel],
            numeric=set(columns),
        )
    )
    tables.append(
        Table(
            "compare_campaigns",
            f"Model comparison per campaign: {first} against {second}",
            ["Channel", "Campaign", *columns],
            [[row["channel"], row["campaign"] or "(none)", *cells(row)] for row in by_campaign],
            numeric=set(columns),
        )
    )
    position_columns = [
        f"{label} {where} {what}"
        for label in (first, second)
        for where in ("early", "middle", "late")
        for what in ("conversions", "revenue")
    ]
    try:
        positions = {
            name: {row["channel"]: row for row in path_positions_report(run, model=name)}
            for name in (model, compare)
        }
    except NoMonthlyFigures as error:  # a run made before runs kept them
        notes["positions"] = error.message
        return tables
    channels = sorted(
        set(positions[model]) | set(positions[compare]),
        key=lambda c: -sum(positions[model].get(c, {}).get(f"{p}_revenue", 0.0) for p in POSITIONS),
    )
    tables.append(
        Table(
            "positions",
            "Credit of early (first 25%), middle (middle 50%) and late (last 25%) touches "
            "of the conversion paths, per channel, under each model",
            ["Channel", *position_columns],
            [
                [
                    channel,
                    *(
                        round(positions[name].get(channel, {}).get(f"{where}_{what}", 0.0), 2)
                        for name in (model, compare)
                        for where in POSITIONS
                        for what in ("conversions", "revenue")
                    ),
                ]
                for channel in channels
            ],
            numeric=set(position_columns),
        )
    )
    return tables


# --- Channel performance (the overview's PPC, email, social and search sections) --------


def _pct(share):
    """A rate as a percentage to two decimals; "" where there is none."""
    return "" if share is None else round(share * 100, 2)


# What a campaign cost and returned first (ROAS in view on a laptop's screen), then how
# it was delivered.
PAID_COLUMNS = [
    "Cost",
    "Conversions",
    "Revenue",
    "ROAS",
    "CPA",
    "Reach",
    "Frequency",
    "Impressions",
    "Clicks",
    "CTR %",
    "CPC",
    "CPM",
    "Visits",
    "Post-click conversions",
    "Post-click rate %",
]


def _paid_cells(row: dict) -> list:
    return [
        row["cost"],
        round(row["conversions"], 2),
        row["revenue"],
        _blank(_rounded(row["roas"], 2)),
        _blank(row["cpa"]),
        row["reach"],
        _blank(row["frequency"]),
        row["impressions"],
        row["clicks"],
        _pct(row["ctr"]),
        _blank(row["cpc"]),
        _blank(row["cpm"]),
        row["sessions"],
        row["post_click_conversions"],
        _pct(row["post_click_rate"]),
    ]


VISIT_COLUMNS = [
    "Reach",
    "Visits",
    "Engaged visits",
    "Engagement rate %",
    "Post-click conversions",
    "Visit conversion rate %",
    "Conversions",
    "Revenue",
    "Cost",
]


def _visit_cells(row: dict) -> list:
    return [
        row["reach"],
        row["sessions"],
        row["engaged_sessions"],
        _pct(row["engagement_rate"]),
        row["post_click_conversions"],
        _pct(row["session_conversion_rate"]),
        round(row["conversions"], 2),
        row["revenue"],
        row["cost"],
    ]


EMAIL_COLUMNS = [
    "Delivered",
    "Opened",
    "Clicked",
    "Unsubscribed",
    "Bounced",
    "Open rate %",
    "Click rate %",
    "Click-to-open rate %",
    "Unsubscribe rate %",
    "Bounce rate %",
    "Conversions",
    "Revenue",
]


def _email_cells(row: dict) -> list:
    return [
        row["delivered"],
        row["opened"],
        row["clicked"],
        row["unsubscribed"],
        row["bounced"],
        _pct(row["open_rate"]),
        _pct(row["click_rate"]),
        _pct(row["click_to_open_rate"]),
        _pct(row["unsubscribe_rate"]),
        _pct(row["bounce_rate"]),
        round(row["conversions"], 2),
        row["revenue"],
    ]


def performance_tables(report: dict, notes: dict, *, complete: bool = False) -> list[Table]:
    """The monthly report's PPC, email, social and search sections, and every line's
    channel performance (the page shows the CAMPAIGNS_SHOWN with the most revenue)."""
    sections = report["sections"]
    lines = report["by_campaign"]
    if not complete and len(lines) > CAMPAIGNS_SHOWN:
        notes["performance"] = (
            f"The {CAMPAIGNS_SHOWN} lines with the most credited revenue of {len(lines)}; "
            "the CSV has them all."
        )
        lines = lines[:CAMPAIGNS_SHOWN]
    span = f"{report['start']} to {report['end']}"
    return [
        Table(
            "ppc",
            f"PPC: paid campaigns, {span}",
            ["Channel", "Campaign", *PAID_COLUMNS],
            [[r["channel"], r["campaign"] or "(none)", *_paid_cells(r)] for r in sections["ppc"]],
            numeric=set(PAID_COLUMNS),
        ),
        Table(
            "email",
            f"Email campaigns, {span}",
            ["Campaign", *EMAIL_COLUMNS],
            [[r["campaign"] or "(none)", *_email_cells(r)] for r in sections["email"]],
            numeric=set(EMAIL_COLUMNS),
        ),
        Table(
            "social",
            f"Social, {span}",
            ["Channel", *VISIT_COLUMNS],
            [[r["channel"], *_visit_cells(r)] for r in sections["social"]],
            numeric=set(VISIT_COLUMNS),
        ),
        Table(
            "search",
            f"Search, {span}",
            ["Channel", *VISIT_COLUMNS],
            [[r["channel"], *_visit_cells(r)] for r in sections["search"]],
            numeric=set(VISIT_COLUMNS),
        ),
        Table(
            "performance",
            f"Channel performance per channel and campaign, {span}",
            ["Channel", "Campaign", *PAID_COLUMNS, "Engaged visits"],
            [
                [r["channel"], r["campaign"] or "(none)", *_paid_cells(r), r["engaged_sessions"]]
                for r in lines
            ],
            numeric={*PAID_COLUMNS, "Engaged visits"},
        ),
    ]
