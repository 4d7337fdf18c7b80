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
