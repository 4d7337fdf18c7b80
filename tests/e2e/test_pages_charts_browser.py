"""The report pages as a marketer reads them in headless Chromium, on the demo's data: a
channel has one colour on every page and chart, an empty range says so, the ROAS columns
are in view at 1,400 px, channel labels read whole at 390 px, and a customer's purchases
come first on the 360° page."""

import re

import pytest

from cdp.formatting import channel_colour
from cdp.models import Profile, Touchpoint
from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


def drawn(page, name: str) -> None:
    page.wait_for_selector(f'[data-chart="{name}"][data-drawn="1"] .main-svg', timeout=15_000)


def trace_colours(page, name: str) -> dict[str, str]:
    """Each trace's name and colour, as plotly.js drew the chart."""
    return page.evaluate(
        """name => Object.fromEntries(
            document.querySelector(`[data-chart="${name}"]`).data
                .map(trace => [trace.name, trace.marker.color]))""",
        name,
    )


def bar_colours(page, name: str, trace: int = 0) -> dict[str, str]:
    """Each bar's category and colour, for a trace coloured bar by bar."""
    return page.evaluate(
        """([name, index]) => {
            const trace = document.querySelector(`[data-chart="${name}"]`).data[index];
            return Object.fromEntries(trace.x.map((x, i) => [x, trace.marker.color[i]]));
        }""",
        [name, trace],
    )


def test_one_colour_per_channel_on_every_page_and_chart(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    page.set_viewport_size(LAPTOP)
    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/")
    drawn(page, "revenue")
    overview = trace_colours(page, "revenue")
    assert len(overview) >= 5  # the demo's channels
    assert overview == {channel: channel_colour(channel) for channel in overview}
    assert len(set(overview.values())) == len(overview)  # no two channels share one
    legend = page.locator('[data-chart="revenue"] .legendtext').all_text_contents()
    assert set(legend) == set(overview)
    axis_title = page.text_content('[data-chart="revenue"] .ytitle')
    assert axis_title == "Credited revenue (USD)"
    assert page.locator('[data-chart="revenue"] .ytick text').last.text_content().startswith("$")

    page.goto(f"{live_server.url}/app/attribution/")
    drawn(page, "models")
    models = trace_colours(page, "models")
    shared = overview.keys() & models.keys()
    assert len(shared) >= 5
    assert {c: models[c] for c in shared} == {c: overview[c] for c in shared}

    page.goto(f"{live_server.url}/app/journeys/")
    drawn(page, "assisted")
    assisted = bar_colours(page, "assisted")
    shared = overview.keys() & assisted.keys()
    assert shared and {c: assisted[c] for c in shared} == {c: overview[c] for c in shared}
    sankey = page.evaluate(
        """() => { const node = document.querySelector('[data-chart="paths"]').data[0].node;
                   return Object.fromEntries(node.label.map((l, i) => [l, node.color[i]])); }"""
    )
    shared = overview.keys() & sankey.keys()
    assert shared and {c: sankey[c] for c in shared} == {c: overview[c] for c in shared}

    # The same colours on a second run of the page (a reload draws the same figure).
    page.goto(f"{live_server.url}/app/")
    drawn(page, "revenue")
    assert trace_colours(page, "revenue") == overview


def test_an_empty_range_says_no_data_instead_of_an_empty_axis(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/")
    page.goto(f"{live_server.url}/app/?start=2001-01&end=2001-02")
    empty = page.locator('[data-chart="revenue"][data-empty="1"]')
    assert empty.inner_text() == "No data for this range."
    assert page.locator('[data-chart="revenue"] .main-svg').count() == 0  # no axis drawn
    assert page.locator("#chart-data-revenue").count() == 0
    assert page.inner_text('[data-empty="ppc"]') == "No data for this range."
    page.screenshot(path=str(ARTIFACTS / "overview-empty.png"), full_page=True)


def _right_edge_in_view(page, table: str, column: str) -> None:
    """The column's heading ends inside the table's scroll box and the window, without
    scrolling sideways."""
    named = re.compile(f"^{re.escape(column)}$")
    header = page.locator(f'[data-table="{table}"] thead th', has_text=named)
    box = header.first.bounding_box()
    frame = page.locator(f'[data-table="{table}"]').locator("xpath=..").bounding_box()
    assert box and frame, table
    assert box["x"] + box["width"] <= min(frame["x"] + frame["width"], LAPTOP["width"]) + 1, (
        table,
        column,
        box,
        frame,
    )


def test_the_roas_columns_are_in_view_at_1400_px(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    page.set_viewport_size(LAPTOP)
    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/")
    drawn(page, "revenue")
    for table in ("channels", "ppc", "performance"):
        _right_edge_in_view(page, table, "ROAS")
    page.goto(f"{live_server.url}/app/attribution/")
    drawn(page, "models")
    for column in ("Linear ROAS", "Last touch ROAS"):  # the two models compared
        _right_edge_in_view(page, "campaigns", column)
    # Pick the models of the campaign table in the page: first touch and Markov.
    page.uncheck('input[name="campaign_models"][value="linear"]')
    page.uncheck('input[name="campaign_models"][value="last_touch"]')
    page.check('input[name="campaign_models"][value="first_touch"]')
    page.check('input[name="campaign_models"][value="markov"]')
    with page.expect_navigation():
        page.click(".filters button[type=submit]")
    assert "campaign_models=first_touch" in page.url and "campaign_models=markov" in page.url
    headers = page.locator('[data-table="campaigns"] thead th').all_inner_texts()
    assert "First touch ROAS" in headers and "Markov chain (data-driven) ROAS" in headers
    assert "Linear ROAS" not in headers
    _right_edge_in_view(page, "campaigns", "Markov chain (data-driven) ROAS")
    page.screenshot(path=str(ARTIFACTS / "attribution-1400.png"), full_page=True)


def test_channel_and_model_labels_read_whole_at_390_px(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/journeys/")
    for chart in ("assisted", "pareto"):
        drawn(page, chart)
        plot = page.locator(f'[data-chart="{chart}"] .main-svg').first.bounding_box()
        labels = page.locator(f'[data-chart="{chart}"] .xtick text')
        assert labels.count() >= 3
        for i in range(labels.count()):
            box = labels.nth(i).bounding_box()
            assert box and plot
            assert (
                box["x"] >= plot["x"] - 1
                and box["x"] + box["width"] <= plot["x"] + plot["width"] + 1
            ), (chart, labels.nth(i).text_content())
            assert box["y"] + box["height"] <= plot["y"] + plot["height"] + 1
        texts = labels.all_text_contents()
        assert all(not text.endswith("-") for text in texts)
    assisted = page.locator('[data-chart="assisted"] .xtick text').all_text_contents()
    assert "In-store" in assisted or "Direct" in assisted  # whole names, not "In-st"
    page.screenshot(path=str(ARTIFACTS / "journeys-390.png"), full_page=True)


def test_a_customers_purchases_come_first_on_the_360_page(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    buyer = (
        Profile.objects.filter(merged_into=None, touchpoints__event="Order Completed")
        .order_by("pk")
        .first()
    )
    orders = list(
        Touchpoint.objects.filter(profile=buyer, event="Order Completed").order_by("-timestamp")
    )
    page = browser_page
    sign_in(page, live_server, make_user("cara", "Customer care"), f"/app/profiles/{buyer.pk}/")
    table = page.locator('[data-table="conversions"]')
    rows = table.locator("tbody tr")
    purchases = [
        cells
        for cells in (rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count()))
        if cells[2] == "Order Completed"
    ]
    assert len(purchases) == len(orders) > 0
    for cells, order in zip(purchases, orders, strict=True):
        assert cells[3] == f"${order.revenue:,.2f}"  # in the order's currency (USD)
        assert cells[4] == str(order.properties.get("order_id", ""))
    # Above the timeline, whatever page of it the purchases are on.
    top = table.bounding_box()
    timeline = page.locator('[data-table="timeline"]').bounding_box()
    assert top and timeline and top["y"] < timeline["y"]
    page.screenshot(path=str(ARTIFACTS / "customer-purchases.png"), full_page=True)
