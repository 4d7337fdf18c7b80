"""The 360° customer pages under /app/profiles/: search, one customer, unmerge."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum

from attribution.models import Credit
from attribution.services import refresh_attribution
from cdp.models import AuditEntry, Profile, Touchpoint
from cdp.selectors import timeline
from consent.suppression import search_fingerprint
from identity.models import MergeBlock, MergeDecision
from identity.selectors import active_profile

pytestmark = pytest.mark.django_db
BUY = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
SEARCH = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
EMAIL = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}


def at(days: float) -> str:
    return (BUY - timedelta(days=days)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def ann(deliver):
    """Ann browses anonymously after a paid search ad, signs up, comes back from the
    newsletter and buys for 120; her anonymous visit is then tied to her (a merge)."""
    deliver({"type": "page", "anonymousId": "anon-1", "timestamp": at(6), "context": SEARCH})
    deliver(
        {
            "type": "identify",
            "userId": "ann",
            "anonymousId": "anon-2",
            "timestamp": at(5),
            "traits": {"email": "Ann@Example.com", "first_name": "Ann", "phone": "(415) 555-0100"},
        }
    )
    deliver({"type": "page", "userId": "ann", "timestamp": at(2), "context": EMAIL})
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "ann",
            "timestamp": at(0),
            "properties": {"revenue": 120},
        }
    )
    deliver({"type": "identify", "userId": "ann", "anonymousId": "anon-1", "timestamp": at(-1)})
    decision = MergeDecision.objects.get()
    return Profile.objects.get(pk=active_profile(decision.merged_id))


def url(profile) -> str:
    return f"/app/profiles/{profile.pk}/"


def test_anonymous_visitors_are_sent_to_sign_in(client, ann):
    decision = MergeDecision.objects.get()
    for path in ("/app/profiles/?q=ann", url(ann)):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    response = client.post(f"{url(ann)}unmerge/{decision.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")


def test_analysts_may_not_open_customer_pages(user_in, ann):
    analyst = user_in("Analysts")
    assert analyst.get("/app/profiles/?q=ann").status_code == 403
    assert analyst.get(url(ann)).status_code == 403
    decision = MergeDecision.objects.get()
    assert analyst.post(f"{url(ann)}unmerge/{decision.pk}/").status_code == 403
    assert not AuditEntry.objects.exists()


def test_customer_care_sees_the_page_but_may_not_unmerge(user_in, ann):
    care = user_in("Customer care")
    page = care.get(url(ann))
    assert page.status_code == 200
    assert b"Unmerge</button>" not in page.content
    decision = MergeDecision.objects.get()
    assert care.post(f"{url(ann)}unmerge/{decision.pk}/").status_code == 403
    decision.refresh_from_db()
    assert decision.undone_at is None


@pytest.mark.parametrize(
    "query",
    [
        "ann@example.com",
        "  ANN@Example.COM ",
        "email:ann@example.com",
        "+14155550100",
        "415 555 0100",
        "phone:(415) 555-0100",
        "ann",
        "user_id:ann",
        "anon-1",
        "anonymous_id:anon-2",
    ],
)
def test_a_customer_is_found_by_any_identifier_written_any_way(user_in, ann, query):
    response = user_in("Customer care").get("/app/profiles/", {"q": query})
    assert response.status_code == 200
    rows = response.context["tables"]["results"].rows
    assert [row[0] for row in rows] == [f"Profile {ann.pk}"]
    assert f'href="/app/profiles/{ann.pk}/"' in response.content.decode()


def test_a_merged_away_profile_id_leads_to_the_customer_it_is_part_of(user_in, ann):
    care = user_in("Customer care")
    merged = MergeDecision.objects.get().merged_id
    found = care.get("/app/profiles/", {"q": f"#{merged}"}).context["tables"]["results"].rows
    assert found == [
        [f"Profile {ann.pk}", "profile id", str(merged), "Ann", "Ann@Example.com", found[0][5]]
    ]
    assert f"found on profile {merged}" in found[0][5]
    response = care.get(f"/app/profiles/{merged}/")
    assert response.status_code == 302 and response["Location"] == url(ann)


def test_searches_are_audited_without_the_value_searched(user_in, ann):
    care = user_in("Customer care")
    care.get("/app/profiles/", {"q": "Ann@Example.com"})
    care.get("/app/profiles/", {"q": "loyalty_id:L-1"})
    care.get("/app/profiles/")  # the empty form is no search
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.action, e.object_type, e.path, e.username) for e in entries] == [
        ("view", "cdp.profile.search", "/app/profiles/", care.user.username),
    ] * 2
    assert entries[0].object_id == search_fingerprint("email", "ann@example.com")
    assert entries[1].object_id == search_fingerprint("loyalty_id", "L-1")
    for entry in entries:
        assert "ann" not in entry.object_id.lower() + entry.path and "L-1" not in entry.object_id


def test_a_search_that_is_no_identifier_is_a_clear_400(user_in, ann):
    care = user_in("Customer care")
    response = care.get("/app/profiles/", {"q": "email:not-an-address"})
    assert response.status_code == 400
    assert (
        response.context["error"]
        == "q: 'email:not-an-address' is no identifier of any kind (nor a profile id)"
    )
    assert (
        'role="alert">q: &#x27;email:not-an-address&#x27; is no identifier'
        in response.content.decode()
    )
    response = care.get("/app/profiles/", {"q": "x" * 300})
    assert response.status_code == 400 and "q: at most 255 characters" in response.content.decode()


def test_nothing_found_says_so(user_in, ann):
    response = user_in("Customer care").get("/app/profiles/", {"q": "nobody@example.com"})
    assert response.status_code == 200
    assert response.context["tables"]["results"].rows == []
    assert "0 customers found" in response.content.decode()


def test_the_page_shows_the_customer_as_stored(user_in, ann):
    response = user_in("Customer care").get(url(ann))
    assert response.status_code == 200
    body = response.content.decode()
    touchpoints = Touchpoint.objects.filter(profile=ann)
    assert response.context["count"] == touchpoints.count() == 5
    assert f'data-figure="touchpoints">{touchpoints.count()}<' in body
    traits = {row[0]: row[1:] for row in response.context["tables"]["traits"].rows}
    said = ann.trait_sources["email"]
    assert said["source"] == "web" and said["rule"] == "most_recent"
    assert traits["email"] == ["Ann@Example.com", "web", at(5)[:10] + " 12:00:00", said["rule"]]
    assert traits["first_name"][:2] == ["Ann", "web"]
    identifiers = {(row[0], row[1]) for row in response.context["tables"]["identifiers"].rows}
    assert identifiers == {
        ("user_id", "ann"),
        ("anonymous_id", "anon-1"),
        ("anonymous_id", "anon-2"),
        ("email", "ann@example.com"),
        ("phone", "+14155550100"),
    }
    rows = response.context["tables"]["timeline"].rows
    assert [(row[1], row[4], row[5], row[7]) for row in rows] == [
        ("Direct", "", "", ""),  # the last identify: no campaign
        ("Direct", "Order Completed", "", "120.00"),
        ("Email", "", "autumn", ""),
        ("Direct", "", "", ""),
        ("Paid Search", "", "brand", ""),
    ]
    # Consent: the defaults, as the policy says for a profile with no records.
    consent = {row[0]: row[1:] for row in response.context["tables"]["consent"].rows}
    assert consent["analytics"] == ["not stated", "yes", "default (opt_out)"]
    merges = response.context["tables"]["merges"].rows
    decision = MergeDecision.objects.get()
    assert [(row[0], row[2], row[3], row[4]) for row in merges] == [
        (decision.pk, ann.pk, decision.merged_id, "Shared identifier")
    ]


def test_the_customers_credits_are_their_part_of_the_runs_credits(user_in, ann, deliver):
    deliver({"type": "page", "userId": "bob", "timestamp": at(3), "context": SEARCH})
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "bob",
            "timestamp": at(0),
            "properties": {"revenue": 30},
        }
    )
    run = refresh_attribution("purchase", until=BUY + timedelta(days=2))
    bob = Profile.objects.get(identifiers__kind="user_id", identifiers__value="bob")
    response = user_in("Customer care").get(url(ann), {"goal": "purchase"})
    assert response.status_code == 200
    journeys = response.context["tables"]["journeys"].rows
    assert journeys == [
        ["2026-09-30 12:00:00", "120.00", 2, "Paid Search → Email", "brand, autumn"]
    ]
    credits = {row[0]: row[1:] for row in response.context["tables"]["credits"].rows}
    models = response.context["attribution"].models
    assert models == ["first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
                      "position_based"]  # fmt: skip
    assert credits["Paid Search"][0] == "120.00" and credits["Email"][1] == "120.00"
    assert credits["Email"][3] == credits["Paid Search"][3] == "60.00"  # linear
    # Ann's credits and Bob's add up to the run's, model by model, channel by channel.
    bobs = user_in("Customer care", name="care2").get(url(bob)).context["attribution"].credits
    anns = response.context["attribution"].credits
    for model in models:
        stored = dict(
            Credit.objects.filter(run=run, model=model)
            .values_list("channel")
            .annotate(v=Sum("value"))
            .order_by()
        )
        mine = {
            channel: anns.get(model, {}).get(channel, (0, 0))[1]
            + bobs.get(model, {}).get(channel, (0, 0))[1]
            for channel in stored
        }
        assert mine == pytest.approx(stored), model
    assert 'data-chart="credits"' in response.content.decode()


def test_an_unknown_goal_or_timeline_position_is_a_clear_400(user_in, ann):
    care = user_in("Customer care")
    response = care.get(url(ann), {"goal": "nope"})
    assert response.status_code == 400
    assert (
        "<strong>goal</strong>: no goal &#x27;nope&#x27; (known: purchase)"
        in response.content.decode()
    )
    response = care.get(url(ann), {"before": "yesterday"})
    assert response.status_code == 400
    assert (
        "<strong>before</strong>: is not a position in this timeline" in response.content.decode()
    )
    assert len(response.context["tables"]["timeline"].rows) == 5  # the newest page instead


def test_bad_ids_are_404(user_in, ann):
    steward = user_in("Identity stewards")
    assert steward.get("/app/profiles/999999/").status_code == 404
    assert steward.post(f"{url(ann)}unmerge/999999/").status_code == 404
    assert (
        steward.post(f"/app/profiles/999999/unmerge/{MergeDecision.objects.get().pk}/").status_code
        == 404
    )


def test_every_view_of_the_page_is_audited_and_a_download_is_an_export(user_in, ann):
    care = user_in("Customer care")
    care.get(url(ann))
    response = care.get(url(ann), {"download": "timeline"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    entries = list(AuditEntry.objects.order_by("pk").values_list(
        "action", "object_type", "object_id", "path", "user"
    ))  # fmt: skip
    assert entries == [
        ("view", "cdp.profile", str(ann.pk), url(ann), care.user.pk),
        ("export", "cdp.profile", str(ann.pk), f"{url(ann)}?download=timeline", care.user.pk),
    ]


def test_the_timeline_downloads_as_csv(user_in, ann):
    response = user_in("Customer care").get(url(ann), {"download": "timeline"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "When",
        "Channel",
        "Source",
        "Type",
        "Event",
        "Campaign",
        "Device",
        "Revenue",
    ]
    assert len(rows) == 1 + Touchpoint.objects.filter(profile=ann).count()
    assert rows[2][1:5] == ["Direct", "web", "track", "Order Completed"] and rows[2][7] == "120.00"
    newest = Touchpoint.objects.filter(profile=ann).order_by("-timestamp").first()
    assert rows[1][0] == newest.timestamp.strftime("%Y-%m-%d %H:%M:%S")


def test_personal_values_are_hidden_without_the_personal_data_permission(ann):
    from django.contrib.auth.models import Permission
    from django.test import Client

    user = get_user_model().objects.create_user("viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_customer_360"))
    client = Client()
    client.force_login(user)
    response = client.get(url(ann))
    assert response.status_code == 200
    assert "ann@example.com" not in response.content.decode().lower()
    identifiers = response.context["tables"]["identifiers"].rows
    assert {row[1] for row in identifiers} == {"(hidden)"}


def test_the_timeline_pages_through_every_touchpoint_newest_first(user_in, deliver):
    events = [
        {"type": "page", "userId": "cy", "timestamp": at(day / 10), "name": f"p{day}"}
        for day in range(120)
    ]
    deliver(*events)
    profile = Profile.objects.get(identifiers__kind="user_id", identifiers__value="cy")
    expected = list(
        Touchpoint.objects.filter(profile=profile)
        .order_by("-timestamp", "-pk")
        .values_list("pk", flat=True)
    )
    seen, page = [], timeline(profile.pk)
    while True:
        seen += [t.pk for t in page.touchpoints]
        if not page.older:
            break
        page = timeline(profile.pk, before=page.older)
    assert seen == expected and len(seen) == 120
    # And back up again from the oldest page.
    back = [t.pk for t in page.touchpoints]
    while page.newer:
        page = timeline(profile.pk, after=page.newer)
        back = [t.pk for t in page.touchpoints] + back
    assert back == expected
    # The page links carry the position in the address (the permalink).
    care = user_in("Customer care")
    first = care.get(f"/app/profiles/{profile.pk}/")
    assert len(first.context["tables"]["timeline"].rows) == 50
    older = first.context["page"].older
    assert f"?before={older}" in first.content.decode()
    second = care.get(f"/app/profiles/{profile.pk}/", {"before": older})
    assert [r[4] for r in second.context["tables"]["timeline"].rows] == [
        f"p{day}" for day in range(50, 100)
    ]


def test_the_page_reads_a_fixed_number_of_queries_whatever_the_timeline(
    user_in, deliver, django_assert_max_num_queries
):
    deliver(*[{"type": "page", "userId": "dee", "timestamp": at(d / 10)} for d in range(3)])
    care = user_in("Customer care")
    small = Profile.objects.get(identifiers__kind="user_id", identifiers__value="dee")
    care.get(f"/app/profiles/{small.pk}/")  # warm: sessions, content types
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        care.get(f"/app/profiles/{small.pk}/")
    deliver(*[{"type": "page", "userId": "dee", "timestamp": at(d / 10)} for d in range(3, 150)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = care.get(f"/app/profiles/{small.pk}/")
    assert response.context["count"] == 150


def test_stewards_unmerge_from_the_page(user_in, ann):
    steward = user_in("Identity stewards")
    decision = MergeDecision.objects.get()
    page = steward.get(url(ann)).content.decode()
    assert f'action="/app/profiles/{ann.pk}/unmerge/{decision.pk}/"' in page
    response = steward.post(f"{url(ann)}unmerge/{decision.pk}/", follow=True)
    assert response.redirect_chain == [(url(ann), 302)]
    assert f"Unmerged: profile {decision.merged_id} is separate" in response.content.decode()
    restored = Profile.objects.get(pk=decision.merged_id)
    assert restored.merged_into_id is None
    moved_back = len(decision.snapshot["touchpoints"])
    assert Touchpoint.objects.filter(profile=restored).count() == moved_back > 0
    assert Touchpoint.objects.filter(profile=ann).count() == 5 - moved_back
    decision.refresh_from_db()
    assert decision.undone_at and decision.undone_by == steward.user.username
    assert MergeBlock.objects.filter(
        low=min(ann.pk, restored.pk), high=max(ann.pk, restored.pk)
    ).exists()
    change = AuditEntry.objects.get(action="change")
    assert (change.object_type, change.object_id, change.user) == (
        "identity.mergedecision",
        str(decision.pk),
        steward.user,
    )
    # The same merge again is refused, and the page says why.
    again = steward.post(f"{url(ann)}unmerge/{decision.pk}/", follow=True)
    assert f"Not unmerged: merge {decision.pk} was already undone" in again.content.decode()
    assert "Unmerge</button>" not in again.content.decode()


def test_purchases_are_listed_first_in_the_currency_they_were_paid_in(user_in, ann, deliver):
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "ann",
            "timestamp": at(-2),
            "properties": {"revenue": 1234.5, "currency": "EUR", "order_id": "A-17"},
        }
    )
    response = user_in("Customer care").get(url(ann), {"goal": "purchase"})

    assert response.status_code == 200
    html = response.content.decode()
    # Above the timeline, newest first, each in the currency it was sent in; the order
    # sent without one is in the goal's (its newest conversion's: euros).
    assert html.index('data-table="conversions"') < html.index('data-table="timeline"')
    rows = response.context["tables"]["conversions"].rows
    assert [(row[1], row[2], row[3], row[3].currency, row[4]) for row in rows] == [
        ("Purchase", "Order Completed", "1234.50", "EUR", "A-17"),
        ("Purchase", "Order Completed", "120.00", "EUR", ""),
    ]
    assert "€1,234.50" in html and "€120.00" in html
    # The goal's money (the cards, its attribution) is in its newest conversion's currency.
    assert response.context["currency"] == "EUR"


def test_the_goals_currency_is_read_from_its_newest_conversions_only(
    ann, deliver, settings, monkeypatch
):
    from attribution.selectors import currency

    settings.OMNITRAIL_CURRENCY = "USD"
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "ann",
            "timestamp": at(-2),
            "properties": {"revenue": 10, "currency": "eur"},
        }
    )
    for day, order in ((-3, "B-1"), (-4, "B-2")):  # newer orders naming no currency
        deliver(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "ann",
                "timestamp": at(day),
                "properties": {"revenue": 5, "order_id": order},
            }
        )
    assert currency.goal_currency("purchase") == "EUR"  # the newest that names one
    # Beyond the newest conversions read, a currency is not looked for: the setting's.
    monkeypatch.setattr(currency, "NEWEST_CONVERSIONS", 2)
    assert currency.goal_currency("purchase") == "USD"
    monkeypatch.setattr(currency, "NEWEST_CONVERSIONS", 3)
    assert currency.goal_currency("purchase") == "EUR"
