"""Computed traits over property values of every JSON type: what counts as a value and
as a number, by hand, the same through the PostgreSQL set-based path and the SQLite one
(Python); a merged-away profile gets no values."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from attribution.traits.models import ComputedTrait, ProfileTraitValue
from attribution.traits.services import refresh_traits
from cdp.models import Profile
from consent.selectors import profile_by_identifier

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)
# In time order. Values: 3, "4.5", "x", True, " 7 ", "x" ("" / null / object / array are none);
# numbers among them: 3, 4.5, 7 (True and "x" are not numbers).
SENT = [3, "4.5", "x", "", True, None, {"a": 1}, [1], " 7 ", "x"]
KINDS = ["count", "sum", "average", "min", "max", "most_frequent", "first", "last", "unique",
         "unique_count"]  # fmt: skip


@pytest.fixture
def zoe(deliver):
    deliver(
        *[
            {"type": "track", "userId": "zoe", "event": "Rated", "properties": {"v": value},
             "timestamp": (NOW - timedelta(days=20 - i)).isoformat()}
            for i, value in enumerate(SENT)
        ],
        {"type": "track", "userId": "zoe", "event": "Other", "properties": {"v": 100},
         "timestamp": (NOW - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    for kind in KINDS:
        ComputedTrait.objects.create(
            key=kind, name=kind, kind=kind, event="Rated", property="" if kind == "count" else "v"
        )
    refresh_traits(now=NOW)
    return profile_by_identifier("user_id:zoe").pk


def test_values_numbers_and_texts_by_hand(zoe):
    # A whole float's text: 7 in PostgreSQL, str(7.0) in Python (rules compare `number`).
    WHOLE = "{}" if connection.vendor == "postgresql" else "{}.0"
    stored = {
        row.trait.key: (row.value, row.number, row.text)
        for row in ProfileTraitValue.objects.filter(profile_id=zoe).select_related("trait")
    }
    assert stored == {
        "count": (10, 10.0, "10"),
        "sum": (14.5, 14.5, "14.5"),
        "average": (4.833333, 4.833333, "4.833333"),
        "min": (3, 3.0, WHOLE.format(3)),
        "max": (7, 7.0, WHOLE.format(7)),
        "most_frequent": ("x", None, "x"),
        "first": (3, 3.0, "3"),
        "last": ("x", None, "x"),
        "unique": ([3, "4.5", "x", True, " 7 "], 5.0, "3, 4.5, x, True,  7 "),
        "unique_count": (5, 5.0, "5"),
    }


def test_a_window_and_a_merged_profile(zoe):
    ComputedTrait.objects.create(key="last_5d", name="w", kind="count", event="Rated",
                                 window_days=5)  # fmt: skip
    other = Profile.objects.create()
    Profile.objects.filter(pk=other.pk).update(merged_into_id=zoe)
    refresh_traits(now=NOW)
    # Sent 20, 19, ... 11 days ago: none in the last 5 days.
    assert ProfileTraitValue.objects.get(profile_id=zoe, trait__key="last_5d").value == 0
    assert not ProfileTraitValue.objects.filter(profile_id=other.pk).exists()
    refresh_traits([zoe, other.pk], now=NOW)
    assert ProfileTraitValue.objects.get(profile_id=zoe, trait__key="count").value == 10
    assert not ProfileTraitValue.objects.filter(profile_id=other.pk).exists()


EVERY_KIND = [
    # key, kind, event, where, property, window days
    ("views", "count", "Viewed", {}, "", None),
    ("views_7d", "count", "Viewed", {}, "", 7),
    ("red_views", "count", "Viewed", {"colour": "red"}, "", None),
    ("spend", "sum", "Bought", {}, "price", None),
    ("spend_7d", "average", "Bought", {}, "price", 7),
    ("cheapest", "min", "Bought", {}, "price", None),
    ("dearest", "max", "Bought", {}, "price", 7),
    ("favourite", "most_frequent", "Viewed", {}, "sku", None),
    ("favourite_7d", "most_frequent", "Viewed", {}, "sku", 7),
    ("first_sku", "first", "Viewed", {}, "sku", None),
    ("last_sku", "last", "Viewed", {}, "sku", None),
    ("last_red", "last", "Viewed", {"colour": "red"}, "sku", None),
    ("skus", "unique", "Viewed", {}, "sku", None),
    ("sku_count", "unique_count", "Viewed", {}, "sku", 7),
    ("last_colour", "last", "Viewed", {}, "colour", None),
]


@pytest.fixture
def ties(deliver):
    """ann: A and B viewed twice each, B at the same instant as an A (the later id
    wins "last"; "A" was seen first); 3 orders, one outside 7 days; bob: views on both
    sides of the window, red and blue; cy: only an identify."""
    at = (NOW - timedelta(days=2)).isoformat()
    old = (NOW - timedelta(days=30)).isoformat()
    deliver(
        *[
            {"type": "track", "userId": user, "event": name, "timestamp": when,
             "properties": properties}
            for user, name, when, properties in [
                ("ann", "Viewed", old, {"sku": "B", "colour": "blue"}),
                ("ann", "Viewed", at, {"sku": "A", "colour": "red"}),
                ("ann", "Viewed", at, {"sku": "B", "colour": "red"}),
                ("ann", "Viewed", at, {"sku": "A"}),
                ("ann", "Bought", old, {"price": 10}),
                ("ann", "Bought", at, {"price": "2.5"}),
                ("ann", "Bought", at, {"price": 4}),
                ("bob", "Viewed", old, {"sku": 7, "colour": "red"}),
                ("bob", "Viewed", at, {"sku": True, "colour": "blue"}),
                ("bob", "Viewed", at, {"sku": ""}),
            ]
        ],
        {"type": "identify", "userId": "cy", "traits": {"city": "Oslo"}},
    )  # fmt: skip
    for key, kind, name, where, prop, days in EVERY_KIND:
        ComputedTrait.objects.create(
            key=key, name=key, kind=kind, event=name, where=where, property=prop, window_days=days
        )
    return {user: profile_by_identifier(f"user_id:{user}").pk for user in ("ann", "bob", "cy")}


def _stored(profile_ids):
    return {
        (row.profile_id, row.trait.key): (row.value, row.number)
        for row in ProfileTraitValue.objects.filter(profile_id__in=profile_ids).select_related(
            "trait"
        )
    }


EXPECTED = {
    "ann": {"views": 4, "views_7d": 3, "red_views": 2, "spend": 16.5, "spend_7d": 3.25,
            "cheapest": 2.5, "dearest": 4, "favourite": "B", "favourite_7d": "A",
            "first_sku": "B", "last_sku": "A", "last_red": "B", "skus": ["B", "A"],
            "sku_count": 2, "last_colour": "red"},
    "bob": {"views": 3, "views_7d": 2, "red_views": 1, "favourite": 7, "favourite_7d": True,
            "first_sku": 7, "last_sku": True, "last_red": 7, "skus": [7, True],
            "sku_count": 1, "last_colour": "blue"},
    "cy": {"views": 0, "views_7d": 0, "red_views": 0},
}  # fmt: skip


def test_every_path_gives_the_hand_computed_values(ties, monkeypatch):
    """The full refresh (set-based on PostgreSQL), a scoped one in Python and a scoped
    one set-based agree with values computed by hand (ties broken by the event's id)."""
    from attribution.traits import services

    ids = list(ties.values())
    by_hand = {
        (ties[u], key): value for u, values in EXPECTED.items() for key, value in values.items()
    }
    refresh_traits(now=NOW)
    full = _stored(ids)
    assert {k: v[0] for k, v in full.items()} == by_hand
    ProfileTraitValue.objects.all().delete()
    refresh_traits(ids, now=NOW)  # few profiles: in Python
    assert _stored(ids) == full
    monkeypatch.setattr(services, "PYTHON_AT_MOST", 0)  # set-based on PostgreSQL
    ProfileTraitValue.objects.filter(profile_id=ties["ann"], trait__key="views").update(value=99)
    ProfileTraitValue.objects.filter(profile_id=ties["bob"], trait__key="skus").delete()
    refresh_traits(ids, now=NOW)
    assert _stored(ids) == full
    # A full refresh over stored values writes only what differs (the first one, over
    # none, wrote its values straight in): a changed value, a missing one, a stale one.
    values = ProfileTraitValue.objects
    values.filter(profile_id=ties["bob"], trait__key="views").update(value=5, number=5, text="5")
    values.filter(profile_id=ties["ann"], trait__key="favourite").delete()
    spend = ComputedTrait.objects.get(key="spend")
    values.create(profile_id=ties["cy"], trait=spend, value=1, number=1, text="1")
    refresh_traits(now=NOW)
    assert _stored(ids) == full


def test_deleting_a_profile_or_a_trait_deletes_its_values(zoe):
    # (The values table has no foreign-key constraint in the database: Django cascades.)
    ComputedTrait.objects.get(key="sum").delete()
    assert not ProfileTraitValue.objects.filter(trait__key="sum").exists()
    assert ProfileTraitValue.objects.filter(profile_id=zoe).count() == len(KINDS) - 1
    Profile.objects.filter(pk=zoe).delete()
    assert not ProfileTraitValue.objects.filter(profile_id=zoe).exists()
