"""Journeys out of stored touchpoints: across devices, consent-gated, window edges."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from attribution.engine.heuristics import linear
from attribution.engine.journeys import channel_totals
from attribution.selectors import journeys_for_goal
from consent.selectors import profile_by_identifier
from consent.services import record_consent

pytestmark = pytest.mark.django_db
BUY = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


def at(delta: timedelta) -> str:
    return (BUY - delta).isoformat().replace("+00:00", "Z")


def paths(journey_set):
    j = journey_set.journeys
    return [
        ([j.channels[c] for c in j.touches[a:b]], bool(conv), float(value))
        for a, b, conv, value in zip(
            j.offsets[:-1], j.offsets[1:], j.converted, j.value, strict=True
        )
    ]


def test_a_journey_spans_devices_after_a_merge_and_keeps_its_window(deliver):
    deliver(
        # phone: paid search click 30 days and one second before: outside the window
        {
            "type": "page",
            "anonymousId": "phone",
            "timestamp": at(timedelta(days=30, seconds=1)),
            "context": {"campaign": {"source": "google", "medium": "cpc", "name": "old"}},
        },
        # phone: exactly 30 days before: inside
        {
            "type": "page",
            "anonymousId": "phone",
            "timestamp": at(timedelta(days=30)),
            "context": {"page": {"referrer": "https://www.google.com/"}},
        },
        {
            "type": "page",
            "anonymousId": "phone",
            "timestamp": at(timedelta(days=30) - timedelta(minutes=5)),
        },
        # laptop: email click a week before, then the purchase after logging in
        {
            "type": "track",
            "event": "Email Link Clicked",
            "anonymousId": "laptop",
            "timestamp": at(timedelta(days=7)),
        },
        {
            "type": "identify",
            "anonymousId": "laptop",
            "userId": "ann",
            "timestamp": at(timedelta(days=1)),
        },
        {
            "type": "identify",
            "anonymousId": "phone",
            "userId": "ann",
            "timestamp": at(timedelta(days=1)),
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "ann",
            "timestamp": at(timedelta(0)),
            "properties": {"revenue": 80},
        },
    )

    found = journeys_for_goal()

    # The second phone view continues the organic visit; the old paid click is outside.
    assert paths(found) == [(["Organic Search", "Email"], True, 80.0)]
    assert found.profiles_left_out_for_consent == 0


def test_profiles_without_analytics_consent_are_left_out_and_counted(deliver):
    for user, country in (("us-1", "US"), ("fr-1", "FR"), ("us-2", "US")):
        deliver(
            {
                "type": "identify",
                "userId": user,
                "traits": {"country": country},
                "timestamp": at(timedelta(days=2)),
            },
            {
                "type": "page",
                "userId": user,
                "timestamp": at(timedelta(days=2)),
                "context": {"campaign": {"source": "newsletter", "medium": "email"}},
            },
            {
                "type": "track",
                "event": "Order Completed",
                "userId": user,
                "timestamp": at(timedelta(0)),
                "properties": {"revenue": 10},
            },
        )
    # us-2 withdrew analytics consent; fr-1 never gave it (opt-in in the EU).
    record_consent(profile_by_identifier("user_id:us-2"), "analytics", "withdrawn", channel="api")

    found = journeys_for_goal()

    assert found.profiles_left_out_for_consent == 2 and found.profiles_used == 1
    assert paths(found) == [(["Email"], True, 10.0)]


def test_a_store_purchase_without_any_touch_is_credited_to_in_store(deliver):
    deliver(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "walk-in",
            "timestamp": at(timedelta(0)),
            "properties": {"revenue": 55},
        },
        source="pos",
        kind="pos",
    )
    deliver({"type": "page", "userId": "browser", "timestamp": at(timedelta(days=3))})

    found = journeys_for_goal()

    assert sorted(paths(found)) == [(["Direct"], False, 0.0), (["In-store"], True, 55.0)]
    assert found.conversions_without_touch == 1
    conversions, value = channel_totals(found.journeys, linear(found.journeys))
    assert conversions.sum() == pytest.approx(1) and value.sum() == pytest.approx(55)
    assert np.all(found.journeys.lengths >= 1)
