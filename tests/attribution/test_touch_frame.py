"""The touch frame (the columnar read journeys, segments and reports share) and the
journey edges the vectorised builder must keep: the session rule across a conversion,
a touch at the conversion's instant, the open journey's window, first conversions only."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attribution.engine.channels import CLICK_IDS, touch_fields
from attribution.engine.touches import click_id_query, referrer_host
from attribution.selectors import journeys as module
from attribution.selectors.journeys import journeys_for_goal, touch_frame
from consent.selectors import profile_by_identifier

BUY = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
SITE = ["shop.example.com"]
COLUMNS = ["id", "profile_id", "timestamp", "type", "event", "channel", "campaign"]
COLUMNS += ["revenue", "value"]


def at(delta: timedelta) -> str:
    return (BUY - delta).isoformat().replace("+00:00", "Z")


def pid(user: str) -> int:
    return profile_by_identifier(f"user_id:{user}").pk


def rows(frame, users):
    """(user, timestamp, type, event, channel, campaign, revenue, value) per row."""
    names = {pid(user): user for user in users}
    return [
        (names[p], t.to_pydatetime(), ty, ev, ch, ca, rev, val)
        for p, t, ty, ev, ch, ca, rev, val in frame[
            ["profile_id", "timestamp", "type", "event", "channel", "campaign", "revenue", "value"]
        ].itertuples(index=False)
    ]


def paths(found):
    j = found.journeys
    return [
        ([j.channels[c] for c in j.touches[a:b]], bool(conv), float(value))
        for a, b, conv, value in zip(
            j.offsets[:-1], j.offsets[1:], j.converted, j.value, strict=True
        )
    ]


@pytest.fixture
def shoppers(deliver):
    """ann: a paid search landing page (gclid), a page of the site itself, an email
    opened, events that are no touch, an order; bob: a visit from Facebook."""
    landing = "https://shop.example.com/boots?utm_source=google&utm_medium=cpc"
    landing += "&utm_campaign=brand&gclid=Cj0KCQ"
    deliver(
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(days=3)),
         "context": {"page": {"url": landing, "referrer": "https://www.google.com/"}}},
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(days=3, minutes=-5)),
         "context": {"page": {"url": "https://shop.example.com/cart", "referrer": landing}}},
        {"type": "identify", "userId": "ann", "timestamp": at(timedelta(days=2))},
        {"type": "track", "event": "Product Added", "userId": "ann",
         "timestamp": at(timedelta(days=2))},
        {"type": "track", "event": "Order Completed", "userId": "ann",
         "timestamp": at(timedelta(0)), "properties": {"revenue": 80}},
        {"type": "page", "userId": "bob", "timestamp": at(timedelta(days=1)),
         "context": {"page": {"referrer": "https://l.facebook.com/"}}},
    )  # fmt: skip
    deliver(
        {"type": "track", "event": "Email Opened", "userId": "ann",
         "timestamp": at(timedelta(days=2))},
        source="esp",
        kind="email",
    )  # fmt: skip


@pytest.mark.django_db
def test_the_frame_holds_touches_and_named_events_sorted_with_their_channel(shoppers):
    frame = touch_frame(events=["Order Completed"], own_domains=SITE)

    assert list(frame.columns) == COLUMNS
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame["id"].dtype == np.int64 and frame["profile_id"].dtype == np.int64
    assert all(str(frame[c].dtype) == "category" for c in ("type", "event", "channel"))
    day = timedelta(days=1)
    assert rows(frame, ["ann", "bob"]) == [
        ("ann", BUY - 3 * day, "page", "", "Paid Search", "brand", 0.0, 0.0),
        ("ann", BUY - 3 * day + timedelta(minutes=5), "page", "", "Direct", "", 0.0, 0.0),
        ("ann", BUY - 2 * day, "track", "Email Opened", "Email", "", 0.0, 0.0),
        ("ann", BUY, "track", "Order Completed", "Direct", "", 80.0, 80.0),
        ("bob", BUY - day, "page", "", "Organic Social", "", 0.0, 0.0),
    ]
    assert frame["profile_id"].tolist() == sorted(frame["profile_id"].tolist())
    # Without the own domain the site's page is a referral; unnamed events are left out.
    plain = touch_frame(own_domains=[])
    assert plain["channel"].tolist() == ["Paid Search", "Referral", "Email", "Organic Social"]


@pytest.mark.django_db
@pytest.mark.parametrize("picked_by", ["database", "memory"])
def test_profile_ids_restrict_the_rows_however_they_are_picked(shoppers, monkeypatch, picked_by):
    if picked_by == "memory":
        monkeypatch.setattr(module, "PROFILES_PICKED_BY_DATABASE", 0)

    bob = touch_frame(profile_ids=[pid("bob")])
    nobody = touch_frame(profile_ids=[])

    assert rows(bob, ["bob"]) == [
        ("bob", BUY - timedelta(days=1), "page", "", "Organic Social", "", 0.0, 0.0)
    ]
    assert list(nobody.columns) == COLUMNS and len(nobody) == 0
    assert str(nobody["timestamp"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.django_db
def test_until_keeps_rows_up_to_and_including_it(shoppers):
    frame = touch_frame(until=BUY - timedelta(days=2), events=["Order Completed"])

    # The email opened exactly at `until` is in; bob's view a day later and the order not.
    assert frame["event"].tolist() == ["", "", "Email Opened"]


@pytest.mark.django_db
def test_a_value_property_is_read_for_the_named_events_only(deliver):
    orders = [{"value": "12.5"}, {"value": True}, {"value": "n/a"}, {}, {"value": [3]}]
    deliver(
        *(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "cy",
                "timestamp": at(timedelta(hours=len(orders) - n)),
                "properties": {**properties, "revenue": 5},
            }
            for n, properties in enumerate(orders)
        ),
        {"type": "page", "userId": "cy", "timestamp": at(timedelta(0)), "properties": {"value": 9}},
    )

    frame = touch_frame(events=["Order Completed"], value_property="value")

    assert frame["value"].tolist() == [12.5, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert frame["revenue"].tolist() == [5.0] * 5 + [0.0]


@pytest.mark.django_db
def test_a_direct_view_soon_after_a_touch_continues_it_even_across_a_conversion(deliver):
    deliver(
        {"type": "track", "event": "Email Link Clicked", "userId": "ann",
         "timestamp": at(timedelta(hours=3)),
         "context": {"campaign": {"source": "newsletter", "medium": "email", "name": "spring"}}},
        {"type": "track", "event": "Order Completed", "userId": "ann",
         "timestamp": at(timedelta(hours=2, minutes=50)), "properties": {"revenue": 10}},
        # 20 minutes after the email click: the same visit, not a Direct touch.
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(hours=2, minutes=40))},
        {"type": "track", "event": "Order Completed", "userId": "ann",
         "timestamp": at(timedelta(0)), "properties": {"revenue": 20}},
    )  # fmt: skip

    found = journeys_for_goal()

    assert paths(found) == [(["Email"], True, 10.0), (["Direct"], True, 20.0)]
    assert found.campaigns == ["spring", ""]
    assert found.conversions_without_touch == 1
    assert found.journeys.ages.tolist() == [600.0, 0.0]
    assert found.ends.astype("datetime64[us]").tolist() == [  # naive UTC
        (BUY - timedelta(hours=2, minutes=50)).replace(tzinfo=None),
        BUY.replace(tzinfo=None),
    ]


@pytest.mark.django_db
def test_a_touch_at_the_conversion_instant_counts_nowhere_and_the_open_journey_looks_back(
    deliver,
):
    day = timedelta(days=1)
    deliver(
        {"type": "page", "userId": "bob", "timestamp": at(day),
         "context": {"page": {"referrer": "https://www.google.com/"}}},
        # Stored before the order, at the same instant: not strictly before it.
        {"type": "page", "userId": "bob", "timestamp": at(timedelta(0)),
         "context": {"page": {"referrer": "https://l.facebook.com/"}}},
        {"type": "track", "event": "Order Completed", "userId": "bob",
         "timestamp": at(timedelta(0)), "properties": {"revenue": 30}},
        # After the order: 35 days before the last row (outside the window), then the last.
        {"type": "page", "userId": "bob", "timestamp": at(-40 * day),
         "context": {"campaign": {"source": "newsletter", "medium": "email"}}},
        {"type": "page", "userId": "bob", "timestamp": at(-75 * day),
         "context": {"page": {"referrer": "https://www.bing.com/"}}},
    )  # fmt: skip

    found = journeys_for_goal()

    assert paths(found) == [(["Organic Search"], True, 30.0), (["Organic Search"], False, 0.0)]
    assert found.journeys.ages.tolist() == [86_400.0, 0.0]
    assert found.journeys.channels == ("Organic Search", "Organic Social", "Direct", "Email")


@pytest.mark.django_db
def test_without_repeats_what_follows_a_first_conversion_is_ignored(deliver):
    email = {"campaign": {"source": "newsletter", "medium": "email", "name": "may"}}
    deliver(
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(days=5)), "context": email},
        {"type": "track", "event": "Order Completed", "userId": "ann",
         "timestamp": at(timedelta(days=4)), "properties": {"revenue": 50}},
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(days=2)),
         "context": {"page": {"referrer": "https://www.google.com/"}}},
        {"type": "track", "event": "Order Completed", "userId": "ann",
         "timestamp": at(timedelta(days=1)), "properties": {"revenue": 70}},
        {"type": "page", "userId": "ann", "timestamp": at(timedelta(0)),
         "context": {"page": {"referrer": "https://t.co/"}}},
    )  # fmt: skip

    every = journeys_for_goal()
    first = journeys_for_goal(count_repeat=False)

    assert paths(every) == [
        (["Email"], True, 50.0),
        (["Organic Search"], True, 70.0),
        (["Organic Social"], False, 0.0),
    ]
    assert paths(first) == [(["Email"], True, 50.0)]
    assert first.journeys.channels == ("Email", "Direct")  # the order's own channel too


# What touch_fields reads of referrers and page URLs survives the shortening the frame
# applies before classifying (hundreds of thousands of distinct URLs down to hundreds).
PIECES = ["?", "&", "=", "#", "/", "//", ":", "https://", "www.", "google.com", "[", "]", "@"]
PIECES += [".", "%", "%67", "+", " ", "\t", "\n", "x", "a=b", "é", ";", *CLICK_IDS]
URLISH = st.one_of(st.lists(st.sampled_from(PIECES), max_size=14).map("".join), st.text())


def field(name: str, **raw) -> str | None:
    try:
        return touch_fields(**raw, own_domains=["google.com"])[name]
    except ValueError:  # urlsplit refuses some (a bad IPv6 host): not a case to keep
        return None


@settings(max_examples=500)
@given(URLISH)
def test_a_referrer_cut_to_its_host_keeps_its_referrer_domain(referrer):
    domain = field("referrer_domain", referrer=referrer)
    if domain is not None:
        short = referrer_host(referrer)
        assert field("referrer_domain", referrer=short) == domain


@settings(max_examples=500)
@given(URLISH)
def test_a_page_url_with_its_query_values_blanked_keeps_its_click_id(url):
    click_id = field("click_id", page_url=url)
    if click_id is not None:
        assert field("click_id", page_url=click_id_query(url)) == click_id
