"""The identity review queue under /app/identity/review/: pairs side by side, decided in
one click."""

import csv
import io
import math

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from cdp.models import AuditEntry, Profile
from identity.models import MergeBlock, MergeDecision
from tests.factories import MatchReviewFactory

pytestmark = pytest.mark.django_db
QUEUE = "/app/identity/review/"
LEVELS = {
    "first_name": "Nickname match",
    "last_name": "Exact match",
    "email": "Different",
    "phone": "Missing",
    "birthday": "Exact match",
    "address": "Postcode match",
}


@pytest.fixture
def person(deliver):
    """A profile made by a CRM record with these traits."""

    def make(crm_id, **traits):
        deliver({"type": "identify", "userId": crm_id, "traits": traits}, source="crm", kind="crm")
        return Profile.objects.get(identifiers__kind="user_id", identifiers__value=crm_id)

    return make


@pytest.fixture
def review(person):
    """Jon Smith and Jonathan Smith: same birthday and postcode, different emails."""
    left = person(
        "crm-1",
        first_name="Jon",
        last_name="Smith",
        email="jon@example.com",
        birthday="1980-02-03",
        street="12 High St",
        city="Leeds",
        postal_code="LS1 4AP",
    )
    right = person(
        "crm-2",
        first_name="Jonathan",
        last_name="Smith",
        email="jsmith@work.example",
        birthday="1980-02-03",
        postal_code="LS1 4AP",
    )
    return MatchReviewFactory(left=left, right=right, levels=LEVELS)


def test_the_queue_is_for_identity_stewards_only(client, user_in, review):
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    decide = f"{QUEUE}{review.pk}/decide/"
    response = client.post(decide, {"decision": "accept"})
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    for role in ("Analysts", "Customer care"):
        other = user_in(role)
        assert other.get(QUEUE).status_code == 403
        assert other.post(decide, {"decision": "accept"}).status_code == 403
    assert user_in("Identity stewards").get(QUEUE).status_code == 200
    review.refresh_from_db()
    assert review.status == "pending" and not MergeDecision.objects.exists()


def test_deciding_without_the_personal_data_permission_is_refused(review):
    user = get_user_model().objects.create_user("decider")
    user.user_permissions.add(Permission.objects.get(codename="change_matchreview"))
    client = Client()
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403


def test_a_pair_is_shown_side_by_side_field_by_field(user_in, review):
    response = user_in("Identity stewards").get(QUEUE)
    body = response.content.decode()
    (pair,) = response.context["pairs"]
    assert [(f["field"], f["left"], f["right"], f["level"]) for f in pair["fields"]] == [
        ("first name", "Jon", "Jonathan", "Nickname match"),
        ("last name", "Smith", "Smith", "Exact match"),
        ("email", "jon@example.com", "jsmith@work.example", "Different"),
        ("phone", "", "", "Missing"),
        ("birthday", "1980-02-03", "1980-02-03", "Exact match"),
        ("address", "12 High St, Leeds, LS1 4AP", "LS1 4AP", "Postcode match"),
    ]
    assert pair["weight"] == pytest.approx(math.log2(0.9 / 0.1))
    assert 'data-figure="probability" data-value="0.9">90.0%<' in body
    assert "match weight 3.17" in body
    assert '<span class="level partial">Nickname match</span>' in body
    assert '<span class="level disagree">Different</span>' in body
    assert f'action="/app/identity/review/{review.pk}/decide/"' in body
    assert body.count('name="decision"') == 2
    assert 'data-figure="reviews">1<' in body


def test_accept_merges_the_pair_and_the_queue_moves_on(user_in, review, person):
    other = MatchReviewFactory(
        left=person("crm-3", first_name="Ann"),
        right=person("crm-4", first_name="Anne"),
        match_probability=0.85,
        levels={"first_name": "Jaro-Winkler >0.92"},
    )
    steward = user_in("Identity stewards")
    response = steward.post(
        f"{QUEUE}{review.pk}/decide/", {"decision": "accept", "next": QUEUE}, follow=True
    )
    assert response.redirect_chain == [(QUEUE, 302)]
    decision = MergeDecision.objects.get()
    assert {decision.survivor_id, decision.merged_id} == {review.left_id, review.right_id}
    assert decision.method == "manual" and decision.decided_by == steward.user.username
    assert decision.evidence["review"] == review.pk
    review.refresh_from_db()
    assert review.status == "accepted" and review.decided_by == steward.user.username
    body = response.content.decode()
    assert f"Accepted review {review.pk}: profile {decision.merged_id} merged into" in body
    assert [pair["review"].pk for pair in response.context["pairs"]] == [other.pk]
    change = AuditEntry.objects.get(action="change")
    assert (change.object_type, change.object_id) == ("identity.matchreview", str(review.pk))


def test_reject_keeps_the_pair_apart_for_good(user_in, review):
    steward = user_in("Identity stewards")
    response = steward.post(f"{QUEUE}{review.pk}/decide/", {"decision": "reject"}, follow=True)
    assert response.redirect_chain == [(QUEUE, 302)]
    review.refresh_from_db()
    assert review.status == "rejected"
    assert MergeBlock.objects.filter(low=review.left_id, high=review.right_id).exists()
    assert not MergeDecision.objects.exists()
    assert response.context["pairs"] == []
    assert "No pending reviews" in response.content.decode()
    decided = steward.get(QUEUE, {"status": "rejected"})
    assert [pair["review"].pk for pair in decided.context["pairs"]] == [review.pk]
    assert "Accept: same person" not in decided.content.decode()


def test_a_decided_pair_or_a_bad_decision_changes_nothing(user_in, review):
    steward = user_in("Identity stewards")
    response = steward.post(f"{QUEUE}{review.pk}/decide/", {"decision": "maybe"}, follow=True)
    assert "decision: must be accept or reject." in response.content.decode()
    steward.post(f"{QUEUE}{review.pk}/decide/", {"decision": "reject"})
    response = steward.post(f"{QUEUE}{review.pk}/decide/", {"decision": "accept"}, follow=True)
    assert f"Review {review.pk} was already rejected." in response.content.decode()
    assert not MergeDecision.objects.exists()
    # A next address off the site is ignored.
    response = steward.post(
        f"{QUEUE}{review.pk}/decide/", {"decision": "accept", "next": "https://evil.example/"}
    )
    assert response["Location"] == QUEUE
    assert steward.post(f"{QUEUE}999999/decide/", {"decision": "accept"}).status_code == 404
    assert steward.get(f"{QUEUE}{review.pk}/decide/").status_code == 405


def test_a_pair_already_one_profile_is_refused_with_the_reason(user_in, review):
    from identity.services.merging import merge_profiles

    merge_profiles(review.left_id, review.right_id, method="manual", evidence={})
    steward = user_in("Identity stewards")
    response = steward.post(f"{QUEUE}{review.pk}/decide/", {"decision": "accept"}, follow=True)
    assert f"Review {review.pk} not accepted: these profiles are already one." in (
        response.content.decode()
    )
    assert "These profiles are one already" in response.content.decode()


def test_the_queue_is_paged_likeliest_first_and_views_are_audited(user_in, person):
    people = [person(f"crm-{i}", first_name=f"P{i}") for i in range(24)]
    reviews = [
        MatchReviewFactory(
            left=people[2 * i],
            right=people[2 * i + 1],
            match_probability=0.80 + i / 100,
            levels={"first_name": "Different"},
        )
        for i in range(12)
    ]
    steward = user_in("Identity stewards")
    first = steward.get(QUEUE)
    likeliest = sorted(reviews, key=lambda r: -r.match_probability)
    assert [p["review"].pk for p in first.context["pairs"]] == [r.pk for r in likeliest[:10]]
    assert "?page=2" in first.content.decode()
    second = steward.get(QUEUE, {"page": 2})
    assert [p["review"].pk for p in second.context["pairs"]] == [r.pk for r in likeliest[10:]]
    assert 'data-figure="reviews">12<' in second.content.decode()
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.action, e.object_type, e.path) for e in entries] == [
        ("view", "identity.matchreview", QUEUE),
        ("view", "identity.matchreview", f"{QUEUE}?page=2"),
    ]
    assert entries[1].object_id == ",".join(str(r.pk) for r in likeliest[10:])


def test_bad_filters_are_a_clear_400(user_in, review):
    steward = user_in("Identity stewards")
    response = steward.get(QUEUE, {"status": "maybe"})
    assert response.status_code == 400
    assert (
        "<strong>status</strong>: must be one of pending, accepted, rejected"
        in response.content.decode()
    )
    response = steward.get(QUEUE, {"page": "zero"})
    assert (
        response.status_code == 400
        and "<strong>page</strong>: &#x27;zero&#x27; is not a page number"
        in (response.content.decode())
    )


def test_the_page_downloads_as_csv(user_in, review):
    response = user_in("Identity stewards").get(QUEUE, {"download": "queue"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["Review", "Left profile", "Right profile", "Match probability", "Match weight",
         *LEVELS, "Status"],
        [str(review.pk), str(review.left_id), str(review.right_id), "0.9000", "3.17",
         *LEVELS.values(), "pending"],
    ]  # fmt: skip
    assert AuditEntry.objects.get().action == "export"


def test_the_queue_reads_a_fixed_number_of_queries(user_in, person, django_assert_max_num_queries):
    people = [person(f"crm-{i}", first_name=f"P{i}") for i in range(20)]
    for i in range(10):
        MatchReviewFactory(left=people[2 * i], right=people[2 * i + 1])
    steward = user_in("Identity stewards")
    steward.get(QUEUE)
    with django_assert_max_num_queries(12):
        steward.get(QUEUE)
