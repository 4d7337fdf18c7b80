"""An analyst opens the Journeys and Segments pages in headless Chromium, on the demo's
population: the figures shown are the API's, the charts are drawn, screenshots kept."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from attribution.models import Segment
from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def api_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("api", "api@example.com", "pw"))
    return client


def cells(page, table: str, row: int = 1) -> list[str]:
    selector = f'table[data-table="{table}"] tbody tr:nth-child({row}) td'
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def drawn(page, chart: str) -> None:
    page.wait_for_selector(f'[data-chart="{chart}"][data-drawn="1"] .main-svg', timeout=15_000)


def test_journeys_page_in_a_browser(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/journeys/")
    for chart in ("paths", "path_lengths", "time_to_convert", "assisted", "funnel", "pareto"):
        drawn(page, chart)
    api = api_client()
    paths = api.get("/api/v1/attribution/reports/paths").json()["results"]
    pareto = api.get("/api/v1/attribution/reports/pareto", {"model": "linear"}).json()
    funnel = api.get("/api/v1/attribution/reports/funnel").json()["results"]

    top = cells(page, "paths")
    value = float(re.sub(r"[^0-9.eE+-]", "", top[3]))  # written as money: "$1,234.50"
    assert (top[0], int(top[2].replace(",", "")), value) == (
        paths[0]["path"],
        paths[0]["conversions"],
        paths[0]["value"],
    )
    assert page.locator('table[data-table="paths"] tbody tr').count() == len(paths)
    shown = page.inner_text('[data-figure="pareto"]')
    assert shown == f"{pareto['results']['rows_for_share']} of {len(pareto['results']['rows'])}"
    assert [int(cells(page, "funnel", n + 1)[1]) for n in range(len(funnel))] == [
        row["profiles"] for row in funnel
    ]
    page.screenshot(path=str(ARTIFACTS / "journeys.png"), full_page=True)

    page.set_viewport_size(PHONE)
    page.reload()
    drawn(page, "paths")
    page.screenshot(path=str(ARTIFACTS / "journeys-phone.png"), full_page=True)


def test_segment_pages_in_a_browser(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    make_user,
):
    page = browser_page
    biggest = Segment.objects.order_by("-size", "pk").first()
    api = api_client()
    listed = api.get(f"/api/v1/segments/{biggest.pk}/").json()
    members = api.get(f"/api/v1/segments/{biggest.pk}/members/", {"page_size": 1000}).json()
    member_ids = sorted(row["profile"] for row in members["results"])
    sizes = api.get(f"/api/v1/segments/{biggest.pk}/sizes/", {"days": 30}).json()

    sign_in(page, live_server, make_user("ana", "Analysts"), "/app/segments/")
    drawn(page, "sizes")
    assert page.inner_text(f'[data-figure="size-{biggest.pk}"]') == str(listed["size"])
    page.screenshot(path=str(ARTIFACTS / "segments.png"), full_page=True)

    with page.expect_navigation():
        page.click(f'th a[href="/app/segments/{biggest.pk}/"]')
    drawn(page, "sizes")
    assert listed["size"] > 0
    assert int(page.inner_text('[data-figure="size"]')) == listed["size"] == len(member_ids)
    assert page.inner_text('[data-figure="in-words"]') == listed["in_words"]
    first_column = page.locator('table[data-table="members"] tbody td:first-child')
    shown = [int(text) for text in first_column.all_inner_texts()]
    assert shown == member_ids[:50]
    assert cells(page, "sizes", len(sizes))[-1] == str(sizes[-1]["size"])
    assert "@" not in page.inner_text('table[data-table="members"]')  # analysts: no emails
    page.screenshot(path=str(ARTIFACTS / "segment.png"), full_page=True)

    page.set_viewport_size(PHONE)
    page.reload()
    drawn(page, "sizes")
    page.screenshot(path=str(ARTIFACTS / "segment-phone.png"), full_page=True)
