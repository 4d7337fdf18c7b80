"""Segments: each rule type on a small hand-built population with its exact members,
nesting, incremental re-evaluation, the enter / exit history, the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from attribution.models import ProfileFacts, Segment, SegmentMembership
from attribution.segments.rules import RuleError
from attribution.segments.services import refresh_facts, refresh_segment, save_segment
from consent.selectors import profile_by_identifier
from consent.services import record_consent

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def ago(**delta) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def pid(user: str) -> int:
    return profile_by_identifier(f"user_id:{user}").pk


def members(segment: Segment) -> set[str]:
    """The members' user ids."""
    from identity.models import Identifier

    ids = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values(
        "profile_id"
    )
    return set(
        Identifier.objects.filter(kind="user_id", profile_id__in=ids).values_list(
            "value", flat=True
        )
    )


def segment(definition, **kwargs) -> Segment:
    made = save_segment(
        name=kwargs.pop("name", f"s{Segment.objects.count()}"), definition=definition, **kwargs
    )
    refresh_segment(made)
    return made


@pytest.fixture
def people(deliver):
    """ann: Paris, 34, two orders (email first); bob: Lyon, 52, one in-store order;
    cy: Paris, no age, visits from Paid Social only, added to cart; dee: Berlin, 19,
    nothing but an identify."""
    deliver(
        {"type": "identify", "userId": "ann", "timestamp": ago(days=50),
         "traits": {"city": "Paris", "age": 34, "email": "ann@example.com", "plan": "gold"}},
        {"type": "track", "event": "Email Link Clicked", "userId": "ann", "timestamp": ago(days=40),
         "properties": {}, "context": {"campaign": {"source": "newsletter", "medium": "email",
                                                     "name": "spring"}}},
        {"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ago(days=39),
         "properties": {"revenue": 120, "category": "Jackets"}},
        {"type": "page", "userId": "ann", "timestamp": ago(days=10),
         "context": {"page": {"referrer": "https://www.google.com/"}}},
        {"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ago(days=9),
         "properties": {"revenue": 80, "category": "Footwear"}},
        {"type": "identify", "userId": "bob", "timestamp": ago(days=200),
         "traits": {"city": "Lyon", "age": 52}},
        {"type": "identify", "userId": "cy", "timestamp": ago(days=3),
         "traits": {"city": "Paris"}},
        {"type": "page", "userId": "cy", "timestamp": ago(days=3),
         "context": {"campaign": {"source": "facebook", "medium": "paid_social",
                                  "name": "retarget"}}},
        {"type": "track", "event": "Product Added", "userId": "cy", "timestamp": ago(days=2),
         "properties": {"sku": "EO-JKT-001"}},
        {"type": "identify", "userId": "dee", "timestamp": ago(days=1),
         "traits": {"city": "Berlin", "age": 19}},
    )  # fmt: skip
    deliver(
        {"type": "track", "event": "Order Completed", "userId": "bob", "timestamp": ago(days=120),
         "properties": {"revenue": 300}},
        source="store",
        kind="pos",
    )  # fmt: skip
    refresh_facts()


def test_trait_rules(people):
    assert members(segment({"trait": "city", "op": "equals", "value": "Paris"})) == {"ann", "cy"}
    assert members(segment({"trait": "city", "op": "contains", "value": "ly"})) == {"bob"}
    assert members(segment({"trait": "age", "op": "between", "value": [19, 34]})) == {"ann", "dee"}
    assert members(segment({"trait": "age", "op": "gt", "value": 34})) == {"bob"}
    assert members(segment({"trait": "age", "op": "is_set"})) == {"ann", "bob", "dee"}
    assert members(segment({"trait": "age", "op": "not_set"})) == {"cy"}
    assert members(segment({"trait": "city", "op": "in", "value": ["Lyon", "Berlin"]})) == {
        "bob",
        "dee",
    }


def test_event_rules(people):
    bought = {"event": "Order Completed"}
    assert members(segment(bought)) == {"ann", "bob"}
    assert members(segment({**bought, "did": False})) == {"cy", "dee"}
    assert members(segment({**bought, "at_least": 2})) == {"ann"}
    assert members(segment({**bought, "within_days": 30})) == {"ann"}
    assert members(segment({**bought, "where": {"category": "Jackets"}})) == {"ann"}
    assert (
        members(segment({**bought, "where": {"category": "Jackets"}, "within_days": 30})) == set()
    )


def test_channel_and_value_facts(people):
    facts = {f.profile_id: f for f in ProfileFacts.objects.all()}
    ann, bob, cy = facts[pid("ann")], facts[pid("bob")], facts[pid("cy")]
    assert (ann.first_touch_channel, ann.last_touch_channel) == ("Email", "Organic Search")
    assert ann.last_touch_campaign == "spring"
    assert (ann.order_count, ann.total_revenue, ann.channel_count) == (2, 200.0, 2)
    assert (bob.order_count, bob.total_revenue) == (1, 300.0)
    assert cy.first_touch_channel == "Paid Social" and cy.order_count == 0
    # RFM among the two buyers: ann more recent and more frequent, bob more monetary
    assert ann.recency_score > bob.recency_score and ann.frequency_score > bob.frequency_score
    assert bob.monetary_score > ann.monetary_score
    assert cy.rfm_score == 0
    assert ann.clv > ann.total_revenue  # revenue to date plus the year ahead

    fact = {"fact": "first_touch_channel", "op": "equals"}
    assert members(segment({**fact, "value": "Paid Social"})) == {"cy"}
    assert members(segment({"fact": "total_revenue", "op": "gte", "value": 200})) == {"ann", "bob"}
    assert members(segment({"fact": "order_count", "op": "equals", "value": 1})) == {"bob"}
    assert members(segment({"fact": "last_touch_campaign", "op": "equals", "value": "spring"})) == {
        "ann"
    }
    assert members(segment({"fact": "days_since_last_order", "op": "gt", "value": 90})) == {"bob"}
    assert members(segment({"channel": "Email"})) == {"ann"}
    assert members(segment({"channel": "In-store"})) == {"bob"}


def test_and_or_not_nesting_and_membership_of_another_segment(people):
    paris = segment({"trait": "city", "op": "equals", "value": "Paris"}, name="Paris")
    nested = {
        "any": [
            {"all": [{"segment": paris.pk}, {"not": {"event": "Order Completed"}}]},
            {"all": [{"trait": "age", "op": "gte", "value": 50}, {"channel": "In-store"}]},
        ]
    }
    assert members(segment(nested)) == {"cy", "bob"}
    assert members(segment({"not": nested})) == {"ann", "dee"}
    assert members(segment({"segment": paris.pk, "member": False})) == {"bob", "dee"}


def test_a_new_event_re_evaluates_that_profile_at_once(people, deliver):
    buyers = segment({"event": "Order Completed"}, name="Buyers")
    assert members(buyers) == {"ann", "bob"}
    # ingest runs identity, consent, then this profile's memberships: no full refresh
    deliver(
        {"type": "track", "event": "Order Completed", "userId": "dee", "timestamp": ago(hours=1),
         "properties": {"revenue": 10}}
    )  # fmt: skip
    assert members(buyers) == {"ann", "bob", "dee"}
    assert ProfileFacts.objects.get(profile_id=pid("dee")).order_count == 1


def test_a_merge_re_evaluates_both_profiles(people, deliver):
    from identity.services.merging import merge_profiles

    both = segment(
        {"all": [{"trait": "city", "op": "equals", "value": "Berlin"}, {"channel": "In-store"}]},
        name="Berlin in-store",
    )
    assert members(both) == set()
    store = deliver(
        {"type": "track", "event": "Store Visit", "anonymousId": "card-77",
         "timestamp": ago(days=4)},
        source="store",
        kind="pos",
    )  # fmt: skip
    assert store
    from cdp.models import Touchpoint

    card = Touchpoint.objects.get(anonymous_id="card-77").profile_id
    dee = pid("dee")
    with_history = SegmentMembership.objects.filter(segment=both)
    from attribution.segments.services import reevaluate_profiles

    merge_profiles(dee, card, method="manual", evidence={"why": "same card"})
    reevaluate_profiles({dee, card})  # what the sweep of changed profiles does
    assert members(both) == {"dee"}
    assert with_history.get().profile_id == dee


def test_enter_and_exit_history_is_kept(people, deliver, client, admin_user):
    recent = segment({"event": "Order Completed", "within_days": 30}, name="Recent buyers")
    assert members(recent) == {"ann"}
    later = NOW + timedelta(days=25)  # ann's last order is then 34 days old
    refresh_segment(recent, now=later)
    assert members(recent) == set()
    deliver(
        {"type": "track", "event": "Order Completed", "userId": "ann", "timestamp": ago(hours=2),
         "properties": {"revenue": 5}}
    )  # fmt: skip
    refresh_segment(recent, now=later + timedelta(minutes=1))
    stays = list(
        SegmentMembership.objects.filter(segment=recent)
        .order_by("entered_at")
        .values_list("entered_at", "exited_at")
    )
    assert len(stays) == 2 and stays[0][1] == later and stays[1][1] is None

    client.force_login(admin_user)
    body = client.get(f"/api/v1/segments/{recent.pk}/members/?history=true").json()
    assert [(r["exited_at"] is None) for r in body["results"]] == [False, True]
    sizes = client.get(f"/api/v1/segments/{recent.pk}/sizes/?days=3").json()
    # at the end of today both stays overlap: the first one ends at `later`, 25 days ahead
    assert [point["size"] for point in sizes] == [0, 0, 2]


def test_consent_purpose_of_a_segment(people):
    record_consent(pid("ann"), "email_marketing", "granted", channel="api")
    record_consent(pid("bob"), "email_marketing", "denied", channel="api")
    result = refresh_segment(
        save_segment(
            name="Buyers to email",
            definition={"event": "Order Completed"},
            purpose="email_marketing",
        )
    )
    assert members(Segment.objects.get(name="Buyers to email")) == {"ann"}
    assert result.left_out_for_consent == 1


def test_bad_definitions_name_the_place():
    with pytest.raises(RuleError, match=r"definition.all\[1\].op: must be one of"):
        save_segment(
            name="x",
            definition={
                "all": [{"channel": "Email"}, {"trait": "city", "op": "equal", "value": 1}]
            },
        )
    with pytest.raises(RuleError, match="definition.fact: unknown fact 'ltv'"):
        save_segment(name="x", definition={"fact": "ltv", "op": "gt", "value": 1})
    with pytest.raises(RuleError, match="definition.segment: no segment 999"):
        save_segment(name="x", definition={"segment": 999})
    first = save_segment(name="a", definition={"channel": "Email"})
    second = save_segment(name="b", definition={"segment": first.pk})
    with pytest.raises(RuleError, match="loop"):
        save_segment(name="a", definition={"segment": second.pk}, segment=first)


def test_segments_api(people, client, admin_user):
    client.force_login(admin_user)
    made = client.post(
        "/api/v1/segments/",
        {"name": "Paris buyers", "definition": {"all": [
            {"trait": "city", "op": "equals", "value": "Paris"}, {"event": "Order Completed"}]}},
        content_type="application/json",
    )  # fmt: skip
    assert made.status_code == 201, made.json()
    segment_id = made.json()["id"]
    assert made.json()["in_words"] == 'trait city is Paris and did "Order Completed"'
    refreshed = client.post(f"/api/v1/segments/{segment_id}/refresh/").json()
    assert (refreshed["size"], refreshed["entered"]) == (1, 1)
    page = client.get(f"/api/v1/segments/{segment_id}/members/?page_size=1").json()
    assert [r["profile"] for r in page["results"]] == [pid("ann")]
    mine = client.get(f"/api/v1/profiles/{pid('ann')}/segments/").json()
    assert [r["segment_name"] for r in mine] == ["Paris buyers"]
    assert client.get("/api/v1/segments/").json()["results"][0]["name"] == "Paris buyers"

    bad = client.post(
        "/api/v1/segments/",
        {"name": "bad", "definition": {"any": [{"event": "Order Completed", "at_least": 0}]}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "definition.any[0].at_least"
    assert bad.json()["message"].endswith("must be a whole number of at least 1")
    template = client.post(
        "/api/v1/segments/", {"template": "lapsed_customers"}, content_type="application/json"
    )
    assert template.status_code == 201 and template.json()["name"] == "Lapsed customers"
    estimate = client.post(
        "/api/v1/segments/estimate/",
        {"definition": {"event": "Order Completed"}, "purpose": "email_marketing"},
        content_type="application/json",
    ).json()
    assert estimate == {"size": 0, "left_out_for_consent": 2}  # opt-in purpose, none given


def test_templates_select_who_they_describe(people):
    from attribution.segments.services import create_from_template

    lapsed = create_from_template("lapsed_customers")
    abandoners = create_from_template("cart_abandoners")
    one_channel = create_from_template("one_channel_buyers")
    for made in (lapsed, abandoners, one_channel):
        refresh_segment(made)
    assert members(lapsed) == {"bob"}
    assert members(abandoners) == {"cy"}
    assert members(one_channel) == {"bob"}


def test_best_time_to_contact(people):
    """ann's touches are the email click 40 days ago and the search visit 10 days ago
    (her orders are not touches): the same hour of two different weekdays, once each.
    A tie goes to the earliest hour of the week and the first channel by name."""

    def hour_of_week(days: int) -> int:
        moment = NOW - timedelta(days=days)
        return moment.weekday() * 24 + moment.hour

    assert hour_of_week(40) != hour_of_week(10)
    facts = ProfileFacts.objects.get(profile_id=pid("ann"))
    assert facts.best_hour_of_week == min(hour_of_week(40), hour_of_week(10))
    assert facts.best_contact_channel == "Email"  # "Email" < "Organic Search"
    from attribution.segments.selectors import best_time_to_contact

    best = best_time_to_contact(segment({"channel": "Email"}))  # ann alone
    assert (best["channel"], best["hour_of_week"]) == ("Email", facts.best_hour_of_week)
    first = NOW - timedelta(days=40 if hour_of_week(40) < hour_of_week(10) else 10)
    assert best["hour_of_week_label"] == (
        f"{first:%A} {first.hour:02d}:00-{(first.hour + 1) % 24:02d}:00 UTC"
    )
