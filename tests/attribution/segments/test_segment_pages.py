"""The Segments pages under /app/: the figures the API gives, who may see what,
pagination, CSV downloads, and bad filters named on the page."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from attribution.models import (
    Delivery,
    Destination,
    Export,
    ProfileFacts,
    Segment,
    SegmentMembership,
)
from attribution.segments import selectors as segment_selectors
from attribution.segments.selectors import size_history
from attribution.segments.services import refresh_segment, save_segment
from cdp.models import Profile
from consent.models import Purpose
from tests.attribution.conftest import parse_csv

pytestmark = pytest.mark.django_db


# --- Segments list ---------------------------------------------------------------------


def test_segment_list_shows_every_segment_in_words_with_its_stored_size(analyst, parisians):
    buyers = save_segment(
        name="Paris buyers",
        definition={"all": [{"segment": parisians.pk}, {"event": "Order Completed"}]},
        purpose="email_marketing",
    )

    page = analyst.get("/app/segments/")
    rows = parse_csv(analyst.get("/app/segments/", {"download": "segments"}))

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/app/segments/{parisians.pk}/"' in html
    assert f'data-figure="size-{parisians.pk}">120<' in html
    assert rows[0][:3] == ["Segment", "Rules", "Members"]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["Parisians"][1:3] == ["trait city is Paris", "120"]
    assert by_name["Paris buyers"][1] == 'is in "Parisians" and did "Order Completed"'
    assert by_name["Paris buyers"][3] == Purpose.objects.get(key="email_marketing").name
    assert by_name["Paris buyers"][2] == str(buyers.size) == "0"


# --- One segment ------------------------------------------------------------------------


def test_analysts_see_members_without_personal_data(analyst, parisians):
    page = analyst.get(f"/app/segments/{parisians.pk}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert page.context["members"][0].keys() == {"profile_id", "entered_at"}
    assert "@example.com" not in html and "First0" not in html
    assert "/app/profiles/" not in html  # no 360° page for analysts
    assert "Names and email addresses are hidden" in html
    assert 'href="?download=members"' in html
    assert 'data-figure="size">120<' in html
    assert 'data-figure="in-words">trait city is Paris<' in html


def test_customer_care_sees_names_emails_and_links_to_the_360_page(client, user_in, parisians):
    client.force_login(user_in("Customer care", name="carl").user)

    page = client.get(f"/app/segments/{parisians.pk}/")

    first = Profile.objects.filter(traits__city="Paris").order_by("pk").first()
    html = page.content.decode()
    assert f'<a href="/app/profiles/{first.pk}/">{first.pk}</a>' in html
    assert "First0 Last0" in html and "p0@example.com" in html
    assert "Names and email addresses are hidden" not in html


def test_members_come_fifty_to_a_page_by_profile_id(analyst, parisians):
    ids = list(
        Profile.objects.filter(traits__city="Paris").order_by("pk").values_list("pk", flat=True)
    )

    third = analyst.get(f"/app/segments/{parisians.pk}/", {"page": 3})

    assert third.status_code == 200
    assert [m["profile_id"] for m in third.context["members"]] == ids[100:120]
    assert (third.context["pages"], third.context["first_on_page"]) == (3, 101)
    html = third.content.decode()
    assert "Members 101–120 of 120" in html
    assert "page=2" in html and 'rel="prev"' in html and 'rel="next"' not in html


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ({"page": "abc"}, 400, "Members page (page): Enter a whole number."),
        ({"page": "0"}, 400, "Members page (page): Ensure this value is greater than"),
        ({"page": "4"}, 404, "Members page 4 does not exist"),
        ({"days": "400"}, 400, "Days of size history (days): Ensure this value is less than"),
    ],
)
def test_a_bad_page_or_days_is_named_on_the_page(analyst, parisians, query, status, message):
    page = analyst.get(f"/app/segments/{parisians.pk}/", query)

    assert page.status_code == status
    assert message in page.content.decode()


def test_an_unknown_segment_is_not_found(analyst):
    assert analyst.get("/app/segments/999999/").status_code == 404


def test_members_csv_streams_every_current_member(client, user_in, parisians):
    leaver = Profile.objects.filter(traits__city="Paris").order_by("pk").first()
    leaver.traits = {**leaver.traits, "city": "Rome"}
    leaver.save()
    refresh_segment(parisians)  # the first one leaves: 119 stay
    client.force_login(user_in("Analysts", name="ana").user)

    plain = client.get(f"/app/segments/{parisians.pk}/", {"download": "members"})
    client.force_login(user_in("Customer care", name="carl").user)
    full = client.get(f"/app/segments/{parisians.pk}/", {"download": "members"})

    assert plain.streaming and plain["Content-Type"].startswith("text/csv")
    assert "attachment" in plain["Content-Disposition"]
    rows, detailed = parse_csv(plain), parse_csv(full)
    current = list(
        SegmentMembership.objects.filter(segment=parisians, exited_at=None)
        .order_by("profile_id")
        .values_list("profile_id", flat=True)
    )
    assert rows[0] == ["profile_id", "entered_at"]
    assert [int(row[0]) for row in rows[1:]] == current and len(current) == 119
    assert str(leaver.pk) not in {row[0] for row in rows[1:]}
    assert detailed[0] == ["profile_id", "entered_at", "name", "email"]
    assert detailed[1][2:] == ["First1 Last1", "p1@example.com"]


def test_segment_page_matches_the_segments_api(analyst, parisians, admin_user):
    page = analyst.get(f"/app/segments/{parisians.pk}/")
    analyst.force_login(admin_user)

    segment = analyst.get(f"/api/v1/segments/{parisians.pk}/").json()
    sizes = analyst.get(f"/api/v1/segments/{parisians.pk}/sizes/", {"days": 30}).json()
    best = analyst.get(f"/api/v1/segments/{parisians.pk}/best-time/").json()

    assert segment["size"] == 120 and segment["in_words"] == page.context["in_words"]
    assert page.context["tables"]["sizes"].rows == [[p["date"], p["size"]] for p in sizes]
    assert {k: page.context["best_time"][k] for k in best} == best
    assert page.context["best_time"]["sampled"] is None  # small segment: exact


def test_size_history_is_walked_back_from_the_stored_size(parisians):
    """The same figures as the day-by-day counts, including changes exactly at midnight."""
    now = datetime(2026, 10, 20, 15, 30, tzinfo=UTC)
    midnight = datetime(2026, 10, 17, tzinfo=UTC)
    segment = Segment.objects.create(name="History", definition={"channel": "Email"})
    people = list(Profile.objects.order_by("pk")[:6])
    stays = [
        (now - timedelta(days=40), None),
        (now - timedelta(days=10), None),
        (now - timedelta(days=5), now - timedelta(days=2)),
        (midnight, None),
        (now - timedelta(days=9), midnight),
        (now - timedelta(hours=1), None),
    ]
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, profile=p, entered_at=entered, exited_at=exited)
        for p, (entered, exited) in zip(people, stays, strict=True)
    )
    segment.size = 4
    segment.save()

    walked = size_history(segment, days=14, now=now)

    # The same figures as counting, at the end of each day, who had entered and not left.
    ends = [min(datetime(2026, 10, 8 + d, tzinfo=UTC), now) for d in range(14)]
    counted = [
        sum(1 for entered, exited in stays if entered <= end and (exited is None or exited > end))
        for end in ends
    ]
    assert [p["size"] for p in walked] == counted
    assert [p["size"] for p in walked][-5:] == [4, 4, 3, 3, 4]
    assert walked[-1]["date"] == "2026-10-20"


def test_best_time_of_a_big_segment_is_estimated_from_blocks_of_members(parisians, monkeypatch):
    monkeypatch.setattr(segment_selectors, "BEST_TIME_BLOCKS", 2)
    monkeypatch.setattr(segment_selectors, "BEST_TIME_PER_BLOCK", 3)
    segment = Segment.objects.create(name="Ten", definition={"channel": "Email"})
    people = list(Profile.objects.order_by("pk")[:10])
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, profile=p, entered_at=timezone.now()) for p in people
    )
    segment.size = 10
    segment.save()
    # ids p0..p9 in two blocks of five: the first three of each are read (p0-p2, p5-p7)
    hours = [10, 10, 20, 30, 30, 20, 20, 30, 30, 30]
    ProfileFacts.objects.bulk_create(
        ProfileFacts(
            profile=p, best_hour_of_week=h, best_contact_channel="Email" if h != 30 else "SMS"
        )
        for p, h in zip(people, hours, strict=True)
    )

    best = segment_selectors.best_time_to_contact(segment)

    # all ten: hour 30 (5 of 10) on SMS; the six read: hour 20 (3) on Email (5 of 6)
    assert best == {
        "hour_of_week": 20,
        "hour_of_week_label": "Monday 20:00-21:00 UTC",
        "channel": "Email",
        "sampled": 6,
    }


def test_destinations_say_what_was_sent_and_left_out_for_consent(analyst, parisians):
    advertising = Purpose.objects.get(key="ad_user_data")
    audience = Destination.objects.create(
        name="Ads audience", kind="file", purpose=advertising, path="/tmp/x"
    )
    hook = Destination.objects.create(
        name="SMS hook", kind="webhook", purpose=advertising, url="https://example.com/hook"
    )
    audience.segments.add(parisians)
    hook.segments.add(parisians)
    Export.objects.create(
        destination=audience, segment=parisians, path="/tmp/x/old.csv", rows=1,
        left_out_for_consent=119,
    )  # fmt: skip
    Export.objects.create(
        destination=audience, segment=parisians, path="/tmp/x/parisians-2.csv", rows=100,
        left_out_for_consent=20,
    )  # fmt: skip
    Delivery.objects.create(destination=hook, segment=parisians, left_out_for_consent=7)

    page = analyst.get(f"/app/segments/{parisians.pk}/")

    rows = {row[0]: row for row in page.context["tables"]["destinations"].rows}
    assert rows["Ads audience"][1:3] == ["File", advertising.name]
    assert rows["Ads audience"][5:] == ["written", 100, 20]
    assert rows["SMS hook"][5:] == ["pending", "", 7]
    exports = page.context["tables"]["exports"].rows
    assert [row[2:] for row in exports] == [
        ["parisians-2.csv", 100, 20, "Full audience", ""],
        ["old.csv", 1, 119, "Full audience", ""],
    ]
    downloaded = parse_csv(
        analyst.get(f"/app/segments/{parisians.pk}/", {"download": "destinations"})
    )
    assert downloaded[1][-2:] == ["100", "20"]


def test_segment_pages_read_a_bounded_number_of_queries(
    client, user_in, parisians, django_assert_max_num_queries
):
    client.force_login(user_in("Customer care", name="carl").user)
    with django_assert_max_num_queries(16):
        assert client.get(f"/app/segments/{parisians.pk}/", {"page": 2}).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get("/app/segments/").status_code == 200
