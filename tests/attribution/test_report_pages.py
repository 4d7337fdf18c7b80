"""The overview (/app/) and attribution (/app/attribution/) pages: the figures they show
are the API's, who may see them, their CSV downloads, and bad filters named."""

import csv
import io
import re
from datetime import UTC, datetime

import numpy as np
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from attribution.engine.incrementality import holdout_mask
from attribution.engine.models import MODEL_LABELS
from attribution.models import AttributionRun, Holdout
from attribution.selectors import model_comparison
from attribution.selectors.monthly import monthly_report
from attribution.selectors.reports import credit_reports
from attribution.services import refresh_attribution
from cdp.models import Touchpoint
from tests.attribution.test_monthly_report import three_months  # noqa: F401
from tests.factories import HoldoutFactory, report_reader

pytestmark = pytest.mark.django_db
PAGES = ["/app/", "/app/attribution/"]


@pytest.fixture
def run(three_months):  # noqa: F811
    """The three months' run, with every model and a holdout on email that holds out
    some of the profiles active since it started and not all: which ones the draw
    picks depends on their ids, which depend on what the tests before created, so the
    share is chosen for the ids this test has (the one closest to half)."""
    started = datetime(2026, 8, 1, tzinfo=UTC)
    active = Touchpoint.objects.filter(timestamp__gte=started).values_list("profile_id", flat=True)
    ids = np.array(sorted(set(active)), dtype=np.int64)
    percent = min(
        range(5, 100, 5),
        key=lambda share: abs(int(holdout_mask(ids, "channel:Email", share).sum()) - len(ids) / 2),
    )
    held = int(holdout_mask(ids, "channel:Email", percent).sum())
    assert 0 < held < len(ids), (held, len(ids))
    HoldoutFactory(percent=float(percent), started_at=started)
    return refresh_attribution("purchase")


@pytest.fixture
def analyst(user_in):
    return user_in("Analysts", name="ana")


def api_get(path, **params):
    api = APIClient()
    api.force_authenticate(report_reader("api-reader"))
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def download(client, path, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def card(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">.*?<div class="value">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


# --- who may see them -------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/app/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_a_user_without_the_report_permission_is_refused(client, path):
    client.force_login(User.objects.create_user("someone"))
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_before_any_run_the_pages_say_so(analyst, path):
    response = analyst.get(path)
    assert response.status_code == 200
    assert "No attribution run has completed yet" in response.content.decode()


# --- overview ---------------------------------------------------------------------------


def test_the_overview_shows_the_monthly_report_of_the_api(analyst, run):
    response = analyst.get("/app/")

    assert response.status_code == 200
    api = api_get("/api/v1/attribution/reports/monthly")
    assert response.context["report"] == api == monthly_report(run, model="linear")
    html = response.content.decode()
    # August to October: 30 + 120 + 50 credited, 75 spent; ann, bob and cy.
    assert card(html, "revenue") == "$200.00" == f"${api['totals']['revenue']:.2f}"
    assert card(html, "cost") == "$75.00"
    # Every channel here cost something: paid ROAS and blended MER are both 200 / 75.
    assert card(html, "paid-roas") == "2.67" == card(html, "mer")
    assert card(html, "profiles") == "3"
    assert card(html, "identified") == "66.7%"
    assert card(html, "left-out") == "1"  # dee withdrew analytics consent
    assert 'data-chart="revenue"' in html and 'id="chart-data-revenue"' in html
    assert 'value="2026-08"' in html and 'value="2026-10"' in html  # the range shown


def test_the_overview_csv_downloads_keep_the_filters(analyst, run):
    query = {"start": "2026-09", "end": "2026-10", "model": "linear"}

    channels = download(analyst, "/app/", download="channels", **query)
    movers = download(analyst, "/app/", download="movers", **query)
    cells = download(analyst, "/app/", download="channel_months", **query)
    months = download(analyst, "/app/", download="months", **query)

    assert channels == [
        ["Channel", "Touchpoints", "Profiles", "Conversions", "Revenue", "Cost", "ROAS", "Note"],
        ["Email", "2", "2", "1.0", "85.0", "5.0", "17.0", ""],
        # touched in August, credited in September: no offline note
        ["Paid Search", "0", "0", "0.5", "60.0", "0.0", "", ""],
        ["Display", "3", "2", "0.5", "25.0", "30.0", "0.8333", ""],
    ]
    assert movers == [
        ["Channel", "Direction", "Revenue before", "Revenue after", "Revenue change"]
        + ["Revenue change %", "Conversions before", "Conversions after", "Conversions change"],
        ["Display", "up", "0.0", "25.0", "25.0", "", "0.0", "0.5", "0.5"],
        ["Paid Search", "down", "60.0", "0.0", "-60.0", "-100.0", "0.5", "0.0", "-0.5"],
        ["Email", "down", "60.0", "25.0", "-35.0", "-58.3", "0.5", "0.5", "0.0"],
    ]
    assert cells[0][:4] == ["Month", "Channel", "Touchpoints", "Touchpoints change"]
    assert cells[0][-2:] == ["ROAS", "ROAS change"]
    assert ["2026-10", "Display", "2", "1", "2", "1", "0.5", "0.5", "25.0", "25.0"] + [
        "20.0",
        "10.0",
        "1.25",
        "1.25",
    ] in cells
    assert len(cells) == 1 + 6
    assert [row[0] for row in months[1:]] == ["2026-09", "2026-10"]
    assert months[0][-2:] == ["Identified profiles", "Anonymous profiles"]
    assert months[1][-2:] == ["1", "1"]  # ann; cy


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"goal": "signup"}, "goal"),
        ({"model": "magic"}, "model"),
        ({"start": "2026-13"}, "start"),
        ({"end": "soon"}, "end"),
        ({"start": "2026-10", "end": "2026-09"}, "end"),
    ],
)
def test_a_bad_overview_filter_is_named_with_400(analyst, run, query, field):
    response = analyst.get("/app/", query)

    assert response.status_code == 400
    html = response.content.decode()
    assert f'<li id="error-{field}"><strong>{field}</strong>:' in html
    assert 'class="filters"' in html  # the form is there to correct it
    assert analyst.get("/app/", {**query, "download": "channels"}).status_code == 400


def test_the_overview_reads_stored_figures_in_a_few_queries(
    analyst, run, django_assert_max_num_queries
):
    # 8, 2 for the channel performance sections (its kept figures, the costs) and 1 for
    # the goal's currency (its newest conversion's).
    with django_assert_max_num_queries(11):
        assert analyst.get("/app/", {"start": "2026-09"}).status_code == 200


# --- attribution ------------------------------------------------------------------------


def test_the_attribution_page_shows_the_models_the_api_compares(analyst, run):
    response = analyst.get("/app/attribution/", {"measure": "conversions"})

    assert response.status_code == 200
    api = api_get("/api/v1/attribution/reports/models")
    table = response.context["tables"]["models"]
    assert table.columns[:3] == ["Channel", "First touch", "Last touch"]
    shown = {row[0]: dict(zip(table.columns[1:], row[1:], strict=True)) for row in table.rows}
    for row in api:
        assert shown[row["channel"]]["Linear"] == round(row["linear"]["conversions"], 4)
        assert shown[row["channel"]]["Markov chain (data-driven)"] == round(
            row["markov"]["conversions"], 4
        )
    html = response.content.decode()
    assert 'id="chart-data-models"' in html and 'id="chart-data-lift"' in html
    assert 'data-guardrail="6.0"' in html


def test_the_attribution_csv_downloads(analyst, run):
    models = download(analyst, "/app/attribution/", download="models")
    campaigns = download(analyst, "/app/attribution/", download="campaigns")
    holdouts = download(analyst, "/app/attribution/", download="holdouts")

    assert models[0] == ["Channel", *[MODEL_LABELS[n] for n in run.models_run]]
    revenue = {row["channel"]: row["linear"]["revenue"] for row in model_comparison(run)}
    linear = models[0].index("Linear")
    assert {row[0]: float(row[linear]) for row in models[1:]} == revenue
    # The campaign table shows the two models the page compares (linear, last touch).
    assert campaigns[0] == ["Channel", "Campaign", "Cost"] + [
        f"{label} {what}" for label in ("Linear", "Last touch") for what in WHAT
    ]
    by_campaign = {(row[0], row[1]): row for row in campaigns[1:]}
    column = campaigns[0].index("Linear revenue")
    assert float(by_campaign["Email", "autumn"][column]) == 85.0  # 60 + 25
    assert float(by_campaign["Paid Search", "brand"][column]) == 60.0
    assert holdouts[0][:2] == ["Holdout", "Held out %"] and holdouts[0][-1] == "Note"
    assert [row[0] for row in holdouts[1:]] == ["channel:Email"]
    assert float(holdouts[1][1]) == Holdout.objects.get().percent  # the fixture's share


WHAT = ("conversions", "revenue", "ROAS")


def test_the_campaign_table_shows_the_models_picked_with_cost_and_roas(analyst, run):
    rows = download(
        analyst,
        "/app/attribution/",
        download="campaigns",
        campaign_models=["first_touch", "markov"],
    )

    assert rows[0] == ["Channel", "Campaign", "Cost"] + [
        f"{label} {what}"
        for label in ("First touch", "Markov chain (data-driven)")
        for what in WHAT
    ]
    reports = credit_reports(run, models=["first_touch", "markov"], group_by="campaign")
    first = {(r["channel"], r["campaign"]): r for r in reports["first_touch"]}
    markov = {(r["channel"], r["campaign"]): r for r in reports["markov"]}
    assert len(rows) == 1 + len(first.keys() | markov.keys())
    for row in rows[1:]:
        key = (row[0], "" if row[1] == "(none)" else row[1])
        assert float(row[2]) == (first.get(key) or markov[key])["cost"]
        # a line first touch never credits shows zero credit, no ROAS
        line = first.get(key, {"revenue": 0.0, "roas": None})
        assert float(row[4]) == line["revenue"]
        assert row[5] == ("" if line["roas"] is None else str(round(line["roas"], 2)))
    page = analyst.get("/app/attribution/", {"campaign_models": ["first_touch", "markov"]})
    html = page.content.decode()
    assert 'name="campaign_models" value="markov" checked' in html
    assert 'name="campaign_models" value="linear" >' in html  # offered, not picked


def test_a_campaign_model_the_run_lacks_is_named_with_400(analyst, run):
    response = analyst.get("/app/attribution/", {"campaign_models": ["linear", "magic"]})

    assert response.status_code == 400
    html = response.content.decode()
    assert '<li id="error-campaign_models"><strong>campaign_models</strong>:' in html
    assert "&#x27;magic&#x27; not in this run" in html


def test_the_budget_advice_follows_the_guardrail_asked(analyst, run):
    response = analyst.get("/app/attribution/", {"model": "linear", "guardrail": "0.1"})

    assert response.status_code == 200
    assert 'data-guardrail="10.0"' in response.content.decode()
    api = api_get("/api/v1/attribution/reports/budget", model="linear", guardrail=0.1)
    rows = download(
        analyst, "/app/attribution/", download="budget", model="linear", guardrail="0.1"
    )
    assert rows[0][:4] == ["Channel", "Current share %", "Proposed share %", "Change (points)"]
    # the three paid channels (not two empty lists): search 40, display 30, email 5 of 75
    assert sorted(row["channel"] for row in api) == ["Display", "Email", "Paid Search"]
    assert sum(row["current_share"] for row in api) == pytest.approx(1.0)
    assert sum(row["proposed_share"] for row in api) == pytest.approx(1.0)
    assert {row["channel"]: round(row["current_share"] * 100, 2) for row in api} == {
        "Paid Search": 53.33,
        "Display": 40.0,
        "Email": 6.67,
    }
    assert [row[0] for row in rows[1:]] == [row["channel"] for row in api]
    for shown, expected in zip(rows[1:], api, strict=True):
        assert float(shown[1]) == round(expected["current_share"] * 100, 2)
        assert float(shown[2]) == round(expected["proposed_share"] * 100, 2)
        assert abs(float(shown[3])) <= 10.0 + 1e-9


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"goal": "signup"}, "goal"),
        ({"model": "magic"}, "model"),
        ({"measure": "clicks"}, "measure"),
        ({"guardrail": "2"}, "guardrail"),
        ({"guardrail": "lots"}, "guardrail"),
    ],
)
def test_a_bad_attribution_filter_is_named_with_400(analyst, run, query, field):
    response = analyst.get("/app/attribution/", query)

    assert response.status_code == 400
    assert f'<li id="error-{field}"><strong>{field}</strong>:' in response.content.decode()


def test_the_attribution_page_reads_stored_figures_in_a_few_queries(
    analyst, run, django_assert_max_num_queries
):
    # 10, and 6 for return on spend and the model comparison (credits and costs, per
    # channel for the two tables and per campaign), 1 for the goal's currency and 1 for
    # the campaign table's costs: none grows with the data.
    with django_assert_max_num_queries(18):
        assert analyst.get("/app/attribution/").status_code == 200


def test_a_run_made_before_monthly_figures_asks_for_a_refresh(analyst, run):
    summary = {key: value for key, value in run.summary.items() if key != "monthly"}
    AttributionRun.objects.filter(pk=run.pk).update(summary=summary)

    response = analyst.get("/app/")

    assert response.status_code == 200
    assert "made before runs kept monthly figures: refresh attribution" in (
        response.content.decode()
    )
    api = APIClient()
    api.force_authenticate(report_reader("reader"))
    bad = api.get("/api/v1/attribution/reports/monthly")
    assert bad.status_code == 400 and bad.json()["field"] == "goal"


def test_money_is_written_in_the_goals_currency(analyst, run):
    from cdp.models import Touchpoint

    dollars = card(analyst.get("/app/").content.decode(), "revenue")
    Touchpoint.objects.filter(event="Order Completed").update(currency="EUR")

    html = analyst.get("/app/").content.decode()
    assert dollars.startswith("$")
    assert card(html, "revenue") == "€" + dollars[1:]
    assert "Credited revenue (EUR)" in html  # the chart's axis
    page = analyst.get("/app/attribution/").content.decode()
    assert "conversions worth €" in page
