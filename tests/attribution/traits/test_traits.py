"""Computed traits: every kind against values computed by hand on a small population,
again after new events arrive (the incremental refresh that runs with the facts), in
segment rules, in words, and on the profile's facts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from attribution.segments.rules import RuleError, describe, validate
from attribution.segments.selectors import facts_of_profiles
from attribution.segments.services import refresh_segment, save_segment
from attribution.traits import engine
from attribution.traits.models import ComputedTrait, ProfileTraitValue
from attribution.traits.services import refresh_traits
from consent.selectors import profile_by_identifier

NOW = timezone.now().replace(microsecond=0)
ORDER = "Order Completed"
VIEW = "Product Viewed"


def ago(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def pid(user):
    return profile_by_identifier(f"user_id:{user}").pk


def event(user, name, days, **properties):
    return {"type": "track", "userId": user, "event": name, "timestamp": ago(days),
            "properties": properties}  # fmt: skip


TRAITS = [
    ("orders", "count", ORDER, {}, "", None),
    ("orders_30d", "count", ORDER, {}, "", 30),
    ("jacket_orders", "count", ORDER, {"category": "Jackets"}, "", None),
    ("revenue", "sum", ORDER, {}, "revenue", None),
    ("basket_30d", "average", ORDER, {}, "revenue", 30),
    ("smallest_order", "min", ORDER, {}, "revenue", None),
    ("largest_order", "max", ORDER, {}, "revenue", None),
    ("top_category", "most_frequent", ORDER, {}, "category", None),
    ("first_sku", "first", VIEW, {}, "sku", None),
    ("last_sku", "last", VIEW, {}, "sku", None),
    ("skus", "unique", VIEW, {}, "sku", None),
    ("sku_count", "unique_count", VIEW, {}, "sku", None),
]


@pytest.fixture
def shoppers(deliver):
    """ann: three orders (120 Jackets 40 days ago, 80 Footwear 20 days ago, "30.5"
    Jackets 5 days ago) and views of A, B, A; bob: one order of 300 Jackets 100 days
    ago; cy: nothing but an identify."""
    deliver(
        event("ann", ORDER, 40, revenue=120, category="Jackets"),
        event("ann", ORDER, 20, revenue=80, category="Footwear"),
        event("ann", ORDER, 5, revenue="30.5", category="Jackets"),
        event("ann", VIEW, 3, sku="A"),
        event("ann", VIEW, 2, sku="B"),
        event("ann", VIEW, 1, sku="A"),
        event("bob", ORDER, 100, revenue=300, category="Jackets"),
        {"type": "identify", "userId": "cy", "traits": {"city": "Paris"}},
    )
    for key, kind, name, where, prop, days in TRAITS:
        ComputedTrait.objects.create(
            key=key, name=key.replace("_", " "), kind=kind, event=name, where=where,
            property=prop, window_days=days,
        )  # fmt: skip
    refresh_traits()


def values(user):
    return dict(
        ProfileTraitValue.objects.filter(profile_id=pid(user)).values_list("trait__key", "value")
    )


@pytest.mark.django_db
def test_every_kind_against_hand_computed_values(shoppers):
    assert values("ann") == {
        "orders": 3,
        "orders_30d": 2,
        "jacket_orders": 2,
        "revenue": 230.5,  # 120 + 80 + "30.5"
        "basket_30d": 55.25,  # (80 + 30.5) / 2
        "smallest_order": 30.5,
        "largest_order": 120,
        "top_category": "Jackets",  # twice, Footwear once
        "first_sku": "A",
        "last_sku": "A",
        "skus": ["A", "B"],
        "sku_count": 2,
    }
    assert values("bob") == {
        "orders": 1,
        "orders_30d": 0,  # his only order is 100 days old
        "jacket_orders": 1,
        "revenue": 300,
        "smallest_order": 300,
        "largest_order": 300,
        "top_category": "Jackets",
    }  # no average in 30 days, no views: no value rather than a made-up one
    assert values("cy") == {"orders": 0, "orders_30d": 0, "jacket_orders": 0}


@pytest.mark.django_db
def test_new_events_refresh_the_changed_profiles_with_their_facts(shoppers, deliver):
    bob_before = values("bob")
    deliver(event("ann", ORDER, 0, revenue=50, category="Footwear"), event("ann", VIEW, 0, sku="C"))
    ann = values("ann")
    assert (ann["orders"], ann["orders_30d"], ann["revenue"]) == (4, 3, 280.5)
    assert ann["basket_30d"] == round((80 + 30.5 + 50) / 3, 6)
    assert ann["top_category"] == "Jackets"  # 2 against 2: the one seen first
    assert (ann["last_sku"], ann["skus"], ann["sku_count"]) == ("C", ["A", "B", "C"], 3)
    assert values("bob") == bob_before
    deliver(event("cy", VIEW, 0, sku="Z"))
    assert values("cy")["skus"] == ["Z"]


@pytest.mark.django_db
def test_segment_rules_read_computed_traits(shoppers):
    frequent = save_segment(
        name="Frequent", definition={"computed": "orders", "op": "gte", "value": 2}
    )
    jackets = save_segment(
        name="Jackets", definition={"computed": "top_category", "op": "equals", "value": "Jackets"}
    )
    many_skus = save_segment(
        name="Browsers",
        definition={"all": [{"computed": "skus", "op": "contains", "value": "b"},
                            {"computed": "basket_30d", "op": "between", "value": [50, 60]}]},
    )  # fmt: skip
    for made in (frequent, jackets, many_skus):
        refresh_segment(made)
    members = {
        s.name: {m.profile_id for m in s.memberships.filter(exited_at__isnull=True)}
        for s in (frequent, jackets, many_skus)
    }
    assert members == {
        "Frequent": {pid("ann")},
        "Jackets": {pid("ann"), pid("bob")},
        "Browsers": {pid("ann")},
    }
    assert describe(frequent.definition) == "computed trait orders is at least 2"
    with pytest.raises(RuleError) as error:
        validate({"computed": "orders", "op": "bigger", "value": 1})
    assert error.value.field == "definition.op"


@pytest.mark.django_db
def test_facts_carry_the_computed_traits_in_words(shoppers):
    from attribution.segments.services import refresh_facts

    refresh_facts()
    facts = facts_of_profiles([pid("ann")])[0]
    by_key = {t["key"]: t for t in facts["computed_traits"]}
    assert by_key["basket_30d"]["value"] == 55.25
    assert by_key["basket_30d"]["in_words"] == (
        'the average revenue over "Order Completed" events in the last 30 days'
    )
    assert by_key["jacket_orders"]["in_words"] == (
        'the number of "Order Completed" events with category = Jackets (all time)'
    )


def test_the_engine_reduces_each_kind():
    rows = [(NOW - timedelta(days=d), ORDER, p) for d, p in
            [(3, {"v": 2}), (2, {"v": "x"}), (1, {"v": 5}), (0, {"v": 2})]]  # fmt: skip
    for kind, expected in {
        "count": 4, "sum": 9.0, "average": 3.0, "min": 2.0, "max": 5.0,
        "most_frequent": 2, "first": 2, "last": 2, "unique": [2, "x", 5], "unique_count": 3,
    }.items():  # fmt: skip
        assert engine.compute(engine.Definition(kind, ORDER, {}, "v"), rows, NOW) == expected


@pytest.mark.django_db
def test_admin_explains_a_trait_and_refuses_a_missing_property(admin_client, shoppers):
    listing = admin_client.get("/admin/attribution/computedtrait/").content.decode()
    assert "the sum of revenue over &quot;Order Completed&quot; events (all time)" in listing
    response = admin_client.post(
        "/admin/attribution/computedtrait/add/",
        {"name": "Spend", "key": "spend", "kind": "sum", "event": ORDER, "where": "{}",
         "property": "", "window_days": "", "active": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Name the property this kind reads." in response.content.decode()
    bad_where = admin_client.post(
        "/admin/attribution/computedtrait/add/",
        {"name": "Spend", "key": "spend", "kind": "count", "event": ORDER,
         "where": '{"a": [1]}', "property": "", "window_days": "", "active": "on"},
    )  # fmt: skip
    assert "Map property names to plain values" in bad_where.content.decode()


@pytest.mark.django_db
def test_the_360_page_shows_the_computed_traits_in_words(shoppers, user_in):
    from attribution.segments.services import refresh_facts

    refresh_facts()
    care = user_in("Customer care", name="carla")
    html = care.get(f"/app/profiles/{pid('ann')}/").content.decode()
    assert '<dt>basket 30d</dt><dd data-trait="basket_30d">55.25 <span class="muted">' in html
    assert '<dd data-trait="skus">A, B <span class="muted">' in html
    assert "the number of &quot;Order Completed&quot; events in the last 30 days" in html


@pytest.mark.django_db
def test_the_profile_api_serves_the_computed_traits(shoppers, client, admin_user, user_in):
    client.force_login(admin_user)
    served = client.get(f"/api/v1/profiles/{pid('bob')}/traits/")
    assert served.status_code == 200
    assert {t["key"]: t["value"] for t in served.json()} == values("bob")
    top = next(t for t in served.json() if t["key"] == "top_category")
    assert top["in_words"] == 'the most frequent category of "Order Completed" events (all time)'
    refused = user_in("Analysts", name="al").get(f"/api/v1/profiles/{pid('bob')}/traits/")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert client.get("/api/v1/profiles/999999/traits/").status_code == 404
