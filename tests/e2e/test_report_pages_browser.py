"""An analyst opens the overview and the attribution page on the demo's data, in
headless Chromium: the figures shown are the API's and the charts are drawn."""

import re

import pytest
from django.test import Client

from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api(user, report: str, **params) -> list | dict:
    """The report as /api/v1/attribution/reports/ returns it to this user."""
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/v1/attribution/reports/{report}", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def number(text: str) -> float:
    """A figure as the page writes it ("$305,575.29", "1,327", "346.0") as a number."""
    return float(re.sub(r"[^0-9.eE+-]", "", text))


def charts_drawn(page, *names: str) -> None:
    for name in names:
        page.wait_for_selector(f'[data-chart="{name}"][data-drawn="1"] .main-svg', timeout=15_000)


def test_an_analyst_reads_the_overview_and_the_attribution_page(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    analyst = make_user("analyst", "Analysts")
    page = browser_page

    # Overview: the totals of the run's months, as reports/monthly gives them.
    sign_in(page, live_server, analyst, "/app/")
    charts_drawn(page, "revenue")
    monthly = api(analyst, "monthly")
    shown = number(page.inner_text('[data-figure="revenue"] .value'))
    assert shown == pytest.approx(monthly["totals"]["revenue"], abs=0.005)
    assert (
        number(page.inner_text('[data-figure="profiles"] .value'))
        == (monthly["totals"]["profiles"])
    )
    assert (
        number(page.inner_text('[data-figure="left-out"] .value'))
        == (monthly["profiles_left_out_for_consent"])
    )
    assert page.locator('[data-table="channels"] tbody tr').count() == len(monthly["by_channel"])
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # The filters are the address: choose the last two months and the Markov model.
    first, last = monthly["months"][-2], monthly["months"][-1]
    page.select_option("#f-model", "markov")
    page.fill("#f-start", first)
    page.fill("#f-end", last)
    with page.expect_navigation():
        page.click(".filters button[type=submit]")
    assert f"start={first}" in page.url and "model=markov" in page.url
    charts_drawn(page, "revenue")
    narrowed = api(analyst, "monthly", model="markov", start=first, end=last)
    shown = number(page.inner_text('[data-figure="conversions"] .value'))
    # Fractional credits are shown to one decimal.
    assert shown == pytest.approx(narrowed["totals"]["conversions"], abs=0.05)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/app/")
    charts_drawn(page, "revenue")
    page.screenshot(path=str(ARTIFACTS / "overview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Attribution: the models side by side, the budget advice with its guardrail.
    page.goto(f"{live_server.url}/app/attribution/?model=markov&guardrail=0.1")
    charts_drawn(page, "models", "lift")
    compared = api(analyst, "models")
    top = compared[0]  # the channel with the most credited revenue
    header = page.locator('[data-table="models"] thead th').all_inner_texts()
    row = page.locator('[data-table="models"] tbody tr', has_text=top["channel"]).first
    cells = row.locator("td").all_inner_texts()
    markov = header.index("Markov chain (data-driven)")
    assert number(cells[markov]) == pytest.approx(top["markov"]["revenue"])
    advice = api(analyst, "budget", model="markov", guardrail=0.1)
    budget_rows = page.locator('[data-table="budget"] tbody tr')
    assert budget_rows.count() == len(advice)
    first_advice = budget_rows.first.locator("td").all_inner_texts()
    assert first_advice[0] == advice[0]["channel"]
    assert number(first_advice[2]) == round(advice[0]["proposed_share"] * 100, 2)
    assert "±10.0 points" in page.inner_text(".guardrail")
    page.screenshot(path=str(ARTIFACTS / "attribution.png"), full_page=True)
