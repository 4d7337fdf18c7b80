"""A marketer builds and edits segments in the admin, in headless Chromium: the rule
editor draws the stored JSON, writes every change back into it, and never loses a rule."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from attribution.models import Segment
from attribution.segments.models import ProfileChannel, SegmentMembership
from cdp.models import Touchpoint
from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-Ab12!xyz"


def admin_sign_in(page, live_server, next_path):
    get_user_model().objects.create_superuser("marketer", "m@example.com", PASSWORD)
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", "marketer")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")


def watch_errors(page) -> list:
    errors: list = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def rule(page, n):
    return page.locator("#segment-editor .seg-rule").nth(n)


def root_add(page, what="add-condition"):
    page.locator(f"#segment-editor > .seg-group > .seg-actions [data-role={what}]").click()


def test_every_saved_segment_survives_open_and_save_unchanged(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
):
    typed = Segment.objects.create(
        name="Typed values",
        definition={
            "any": [
                {"trait": "age", "op": "equals", "value": 30},
                {"trait": "vip", "op": "equals", "value": True},
                {"trait": "zip", "op": "in", "value": ["0100", "2000"]},
                {"event": "Order Completed", "did": True, "where": {"coupon": "10"}},
                {
                    "not": {
                        "any": [{"channel": "Email"}, {"fact": "clv", "op": "gte", "value": 0.5}]
                    }
                },
            ]
        },
    )
    stored = {s.pk: s.definition for s in Segment.objects.all()}
    assert len(stored) >= 10 and typed.pk in stored  # the templates, personas, hand-made
    page = browser_page
    errors = watch_errors(page)
    admin_sign_in(page, live_server, "/admin/attribution/segment/")
    for pk, definition in stored.items():
        page.goto(f"{live_server.url}/admin/attribution/segment/{pk}/change/")
        page.wait_for_selector("#segment-editor .seg-group")
        assert json.loads(page.input_value("#id_definition")) == definition
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, (pk, width)  # fits a 1,280 px window
        with page.expect_navigation():
            page.click("input[name=_save]")
        assert "was changed successfully" in page.inner_text("#content-start, body"), pk
        assert Segment.objects.get(pk=pk).definition == definition, pk
    page.goto(f"{live_server.url}/admin/attribution/segment/{typed.pk}/change/")
    page.wait_for_selector("#segment-editor .seg-group")
    page.screenshot(path=str(ARTIFACTS / "segment-editor-typed.png"), full_page=True)
    assert errors == []


def test_add_and_remove_a_condition(
    live_server,
    browser_page,  # noqa: F811
    deliver,
):
    deliver(
        {"type": "identify", "userId": "ann", "traits": {"city": "Paris", "age": 41}},
        {"type": "identify", "userId": "bob", "traits": {"city": "Paris", "age": 19}},
        {"type": "identify", "userId": "cid", "traits": {"city": "Lyon", "age": 50}},
    )
    two = {
        "all": [
            {"trait": "city", "op": "equals", "value": "Paris"},
            {"trait": "age", "op": "gte", "value": 18},
        ]
    }
    segment = Segment.objects.create(name="Adults in Paris", definition=two)
    page = browser_page
    errors = watch_errors(page)
    admin_sign_in(page, live_server, f"/admin/attribution/segment/{segment.pk}/change/")
    page.wait_for_selector("#segment-editor .seg-rule")
    assert page.locator("#segment-editor .seg-rule").count() == 2

    root_add(page)  # a third condition: age at least 40
    third = rule(page, 2)
    third.locator("[data-role=kind]").select_option("trait")
    third = rule(page, 2)
    third.locator("[data-role=name]").fill("age")
    third.locator("[data-role=op]").select_option("gte")
    third.locator("[data-role=value]").fill("40")
    page.click("#segment-estimate")
    page.wait_for_function(
        "document.getElementById('estimated-size').textContent.startsWith('Estimated size')"
    )
    assert page.inner_text("#estimated-size").startswith(
        "Estimated size: 1 profiles (0 left out for consent)"
    )
    assert page.locator(".errornote:visible").count() == 0  # no red banner for an estimate
    with page.expect_navigation():
        page.click("input[name=_continue]")
    segment.refresh_from_db()
    assert segment.definition == {"all": [*two["all"], {"trait": "age", "op": "gte", "value": 40}]}

    page.wait_for_selector("#segment-editor .seg-rule")
    rule(page, 0).locator("[data-role=remove]").click()  # the city condition goes
    assert page.locator("#segment-editor .seg-rule").count() == 2
    with page.expect_navigation():
        page.click("input[name=_continue]")
    segment.refresh_from_db()
    assert segment.definition == {
        "all": [
            {"trait": "age", "op": "gte", "value": 18},
            {"trait": "age", "op": "gte", "value": 40},
        ]
    }
    assert errors == []


def test_build_bought_twice_via_email_not_in_a_segment_with_pickers_only(
    live_server,
    browser_page,  # noqa: F811
    demo_data,
    django_capture_on_commit_callbacks,
):
    excluded = Segment.objects.get(template="rfm_champions")
    page = browser_page
    errors = watch_errors(page)
    admin_sign_in(page, live_server, "/admin/attribution/segment/add/")
    page.fill("#id_name", "Twice in 60 days via Email, not champions")

    root_add(page)
    first = rule(page, 0)
    first.locator("[data-role=kind]").select_option("event")
    first = rule(page, 0)
    first.locator("[data-role=name]").select_option("Order Completed")
    first = rule(page, 0)
    first.locator("[data-role=at_least]").fill("2")
    first.locator("[data-role=within_days]").fill("60")

    root_add(page)
    rule(page, 1).locator("[data-role=kind]").select_option("channel")
    rule(page, 1).locator("[data-role=name]").select_option("Email")

    root_add(page)
    rule(page, 2).locator("[data-role=kind]").select_option("segment")
    rule(page, 2).locator("[data-role=member]").select_option("false")
    rule(page, 2).locator("[data-role=name]").select_option(label=excluded.name)

    page.click("#segment-estimate")
    page.wait_for_function(
        "document.getElementById('estimated-size').textContent.startsWith('Estimated size')"
    )
    shown = page.inner_text("#estimated-size")
    page.screenshot(path=str(ARTIFACTS / "segment-editor-pickers.png"), full_page=True)
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "was added successfully" in page.inner_text("body")

    built = Segment.objects.get(name="Twice in 60 days via Email, not champions")
    assert built.definition == {
        "all": [
            {"event": "Order Completed", "did": True, "at_least": 2, "within_days": 60},
            {"channel": "Email"},
            {"segment": excluded.pk, "member": False},
        ]
    }
    since = timezone.now() - timedelta(days=60)
    twice = set(
        Touchpoint.objects.filter(
            event="Order Completed", timestamp__gte=since, profile__isnull=False
        )
        .values("profile_id")
        .annotate(n=Count("*"))
        .filter(n__gte=2)
        .values_list("profile_id", flat=True)
    )
    on_email = set(
        ProfileChannel.objects.filter(channel="Email").values_list("profile_id", flat=True)
    )
    champions = set(
        SegmentMembership.objects.filter(segment=excluded, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )
    expected = (twice & on_email) - champions
    assert shown.startswith(f"Estimated size: {len(expected):,} profiles"), shown
    members = set(
        SegmentMembership.objects.filter(segment=built, exited_at__isnull=True).values_list(
            "profile_id", flat=True
        )
    )
    assert members == expected
    assert errors == []


def test_an_unknown_name_or_a_bad_value_is_a_message_on_the_page(
    live_server,
    browser_page,  # noqa: F811
    deliver,
):
    deliver({"type": "track", "userId": "ann", "event": "Order Completed", "properties": {}})
    page = browser_page
    errors = watch_errors(page)
    admin_sign_in(page, live_server, "/admin/attribution/segment/add/")
    page.fill("#id_name", "Typo")
    page.click("#segment-advanced summary")
    page.fill("#id_definition", json.dumps({"event": "Order Complete", "at_least": 2}))
    page.wait_for_selector("#segment-editor .seg-warn:not([hidden])")
    assert 'did you mean "Order Completed"' in page.inner_text("#segment-editor")
    with page.expect_navigation():
        page.click("input[name=_save]")
    page.wait_for_selector("#segment-editor .seg-message")
    assert "no event 'Order Complete' has been seen (did you mean 'Order Completed'?)" in (
        page.inner_text("#segment-editor .seg-message")
    )
    assert not Segment.objects.exists()

    if not page.is_visible("#id_definition"):
        page.click("#segment-advanced summary")
    page.fill(
        "#id_definition", json.dumps({"all": [{"fact": "order_count", "op": "gte", "value": 1}]})
    )
    rule(page, 0).locator("[data-role=value]").fill("two")
    page.click("#segment-estimate")
    page.wait_for_selector("#segment-editor .seg-rule .seg-message")
    assert "definition.all[0].value: gte compares with a number" in page.inner_text(
        "#segment-editor .seg-rule"
    )
    assert errors == []


def test_a_computed_trait_and_the_purpose_are_picked_by_their_names(
    live_server,
    browser_page,  # noqa: F811
):
    from attribution.traits.models import ComputedTrait
    from consent.models import Purpose

    ComputedTrait.objects.create(
        key="orders_90d",
        name="Orders in the last 90 days",
        kind="count",
        event="Order Completed",
        window_days=90,
    )
    page = browser_page
    errors = watch_errors(page)
    admin_sign_in(page, live_server, "/admin/attribution/segment/add/")
    page.fill("#id_name", "Frequent buyers")
    offered = page.locator("#id_purpose option").all_inner_texts()
    assert set(Purpose.objects.values_list("name", flat=True)) <= set(offered)

    root_add(page)
    rule(page, 0).locator("[data-role=kind]").select_option("computed")
    picker = rule(page, 0).locator("[data-role=name]")
    assert picker.locator("option").all_inner_texts() == ["Orders in the last 90 days (orders_90d)"]
    rule(page, 0).locator("[data-role=op]").select_option("gte")
    rule(page, 0).locator("[data-role=value]").fill("2")
    with page.expect_navigation():
        page.click("input[name=_save]")
    assert "was added successfully" in page.inner_text("body")
    built = Segment.objects.get(name="Frequent buyers")
    assert built.definition == {"computed": "orders_90d", "op": "gte", "value": 2}
    assert errors == []
