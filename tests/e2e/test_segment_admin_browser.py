"""A marketer builds a segment in the admin, in headless Chromium."""

import pytest
from django.contrib.auth import get_user_model

from attribution.models import Segment
from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_estimate_and_save_a_segment(live_server, browser_page, deliver):  # noqa: F811
    deliver(
        {"type": "identify", "userId": "ann", "traits": {"city": "Paris"}},
        {"type": "identify", "userId": "bob", "traits": {"city": "Lyon"}},
    )
    get_user_model().objects.create_superuser("marketer", "m@example.com", "pw-Ab12!xyz")
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/attribution/segment/add/")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", "pw-Ab12!xyz")
    page.click("input[type=submit]")
    page.fill("#id_name", "Parisians")
    page.select_option("#id_rules-0-kind", "trait")
    page.fill("#id_rules-0-name", "city")
    page.select_option("#id_rules-0-op", "equals")
    page.fill("#id_rules-0-value", "Paris")
    with page.expect_navigation():
        page.click("input[name=_estimate]")
    shown = page.inner_text("#content")
    assert "Estimated size: 1 profiles" in shown, shown
    page.screenshot(path=str(ARTIFACTS / "segment-admin-estimate.png"), full_page=True)
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "Parisians" in page.content()
    segment = Segment.objects.get(name="Parisians")
    assert segment.definition == {"all": [{"trait": "city", "op": "equals", "value": "Paris"}]}
    assert segment.size == 1
