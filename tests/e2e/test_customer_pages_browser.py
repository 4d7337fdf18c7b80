"""An identity steward finds a customer, reads their 360° page, undoes a merge and
decides a borderline pair, in headless Chromium on the demo's population."""

import pytest
from rest_framework.test import APIClient

from attribution.selectors import latest_run
from attribution.selectors.customers import customer_attribution
from cdp.models import Profile, Touchpoint
from identity.models import Identifier, MatchReview, MergeBlock, MergeDecision
from identity.services.merging import merge_profiles
from tests.e2e.browser import ARTIFACTS, browser_page  # noqa: F401
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def api_touchpoint_count(api, profile_id: int) -> int:
    """Every touchpoint of the profile, page by page, through the native API."""
    count, address = 0, f"/api/v1/profiles/{profile_id}/touchpoints/?page_size=1000"
    while address:
        body = api.get(address).json()
        count += len(body["results"])
        address = body["next"]
    return count


def a_buyer_with_an_email() -> Profile:
    """A live demo customer with an email who bought something the last run credits."""
    run = latest_run("purchase")
    buyers = (
        Touchpoint.objects.filter(event="Order Completed", profile__merged_into=None)
        .values_list("profile_id", flat=True)
        .distinct()
    )
    for pk in sorted(buyers):
        has_email = Identifier.objects.filter(profile_id=pk, kind="email").exists()
        if has_email and customer_attribution(pk, run).journeys:
            return Profile.objects.get(pk=pk)
    raise AssertionError("the demo has no credited buyer with an email")


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_find_read_unmerge_and_review(live_server, browser_page, demo_data, make_user):  # noqa: F811
    steward = make_user("steward", "Identity stewards")
    api = api_as(make_user("api", superuser=True))
    customer = a_buyer_with_an_email()
    email = Identifier.objects.filter(profile=customer, kind="email").first().value
    decision = MergeDecision.objects.filter(survivor=customer, undone_at=None).first()
    if decision is None:  # give the customer a merge to undo: an anonymous visitor's profile
        visitor = (
            Profile.objects.filter(merged_into=None, traits={})
            .exclude(pk=customer.pk)
            .order_by("pk")
            .first()
        )
        decision = merge_profiles(customer, visitor, method="manual", evidence={"note": "test"})
    page = browser_page

    # Search by email, as typed by someone on the phone with the customer.
    sign_in(page, live_server, steward, "/app/profiles/")
    page.fill("#q", f"  {email.upper()} ")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    with page.expect_navigation():
        page.click(f'a[href="/app/profiles/{customer.pk}/"]')
    assert page.url.endswith(f"/app/profiles/{customer.pk}/")

    # The figures shown are the API's.
    shown = page.inner_text('[data-figure="touchpoints"]').strip()
    assert int(shown) == api_touchpoint_count(api, customer.pk) > 0
    profile = api.get(f"/api/v1/profiles/{customer.pk}/").json()
    traits = {
        row.query_selector("td").inner_text(): row.query_selector_all("td")[1].inner_text()
        for row in page.query_selector_all('table[data-table="traits"] tbody tr')
    }
    assert traits == {name: str(value) for name, value in profile["traits"].items()}
    identifiers = page.query_selector_all('table[data-table="identifiers"] tbody tr')
    assert len(identifiers) == len(profile["identifiers"])
    assert len(page.query_selector_all('table[data-table="timeline"] tbody tr')) == min(
        50, int(shown)
    )
    page.wait_for_selector('[data-chart="credits"][data-drawn="1"]')
    assert page.query_selector('[data-chart="credits"] .main-svg')
    page.screenshot(path=str(ARTIFACTS / "profile.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)  # plotly redraws at the new width
    assert fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / "profile-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Undo the merge from the page: the merged profile is separate again.
    with page.expect_navigation():
        page.click(f'form[action="/app/profiles/{customer.pk}/unmerge/{decision.pk}/"] button')
    assert "Unmerged: profile" in page.inner_text(".messages")
    decision.refresh_from_db()
    assert decision.undone_at is not None and decision.undone_by == "steward"
    restored = Profile.objects.get(pk=decision.merged_id)
    assert restored.merged_into_id is None
    assert set(Touchpoint.objects.filter(profile=restored).values_list("pk", flat=True)) == set(
        decision.snapshot["touchpoints"]
    )
    low, high = sorted((customer.pk, restored.pk))
    assert MergeBlock.objects.filter(low=low, high=high).exists()

    # A borderline pair waits in the review queue: a demo customer and a CRM record of
    # what may be the same person. One click accepts it.
    left = (
        Profile.objects.filter(merged_into=None, traits__has_key="last_name")
        .filter(traits__has_key="city")
        .exclude(pk__in=[customer.pk, restored.pk])
        .order_by("pk")
        .first()
    )
    name, domain = left.traits.get("email", "someone@example.com").split("@")
    right = Profile.objects.create(
        traits={
            "first_name": left.traits.get("first_name", "")[:3],
            "last_name": left.traits["last_name"],
            "email": f"{name}@gmail.example",
            "city": left.traits.get("city", ""),
        }
    )
    review = MatchReview.objects.create(
        left=left,
        right=right,
        match_probability=0.87,
        levels={
            "first_name": "Jaro-Winkler >0.88",
            "last_name": "Exact match",
            "email": "Username match",
            "phone": "Missing",
            "birthday": "Missing",
            "address": "City match",
        },
    )
    with page.expect_navigation():
        page.click('nav a[href="/app/identity/review/"]')
    figure = page.get_attribute(
        f'#review-{review.pk} ~ .score [data-figure="probability"]', "data-value"
    )
    assert (
        float(figure) == api.get(f"/api/v1/match-reviews/{review.pk}/").json()["match_probability"]
    )
    page.screenshot(path=str(ARTIFACTS / "identity-review.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert fits_the_width(page)
    page.screenshot(path=str(ARTIFACTS / "identity-review-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    with page.expect_navigation():
        page.click(
            f'form[action="/app/identity/review/{review.pk}/decide/"] button:has-text("Accept")'
        )
    assert f"Accepted review {review.pk}" in page.inner_text(".messages")
    merge = MergeDecision.objects.get(evidence__review=review.pk)
    assert {merge.survivor_id, merge.merged_id} == {left.pk, right.pk}
    assert merge.method == "manual" and merge.decided_by == "steward"
    review.refresh_from_db()
    assert review.status == "accepted"
