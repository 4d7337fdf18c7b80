"""The Journeys and Segments pages under /app/: the figures the API gives, who may see
what, pagination, CSV downloads, and bad filters named on the page."""

import csv
import io
import json
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
from attribution.selectors import segments as segment_selectors
from attribution.selectors.segments import size_history
from attribution.services import import_costs, refresh_attribution
from attribution.services.segments import refresh_segment, save_segment
from cdp.models import Profile
from consent.models import Purpose

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoppers(shoppers):
    """The attribution tests' shoppers (ann, bob, cy), with display costs, after a run."""
    import_costs(io.StringIO("date,channel,campaign,cost\n2026-09-25,Display,retarget,60\n"))
    return refresh_attribution("purchase")


@pytest.fixture
def analyst(user_in):
    return user_in("Analysts", name="ana")


@pytest.fixture
def parisians(db):
    """120 profiles in Paris (and one in Lyon), the segment of those in Paris refreshed."""
    Profile.objects.bulk_create(
        [
            Profile(
                traits={
                    "first_name": f"First{n}",
                    "last_name": f"Last{n}",
                    "email": f"p{n}@example.com",
                    "city": "Paris",
                }
            )
            for n in range(120)
        ]
        + [Profile(traits={"first_name": "Lou", "email": "lou@example.com", "city": "Lyon"})]
    )
    segment = save_segment(
        name="Parisians",
        definition={"trait": "city", "op": "equals", "value": "Paris"},
        description="Who lives in Paris.",
    )
    refresh_segment(segment)
    segment.refresh_from_db()
    return segment


def api_report(client, name, **params):
    body = client.get(f"/api/v1/attribution/reports/{name}", params)
    assert body.status_code == 200, body.content
    return body.json()["results"]


def parse_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))


# --- Who may open the pages --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/journeys/", "/app/segments/", "/app/segments/{pk}/"])
def test_pages_need_sign_in_and_the_report_permission(client, user_in, parisians, path):
    path = path.format(pk=parisians.pk)

    anonymous = client.get(path)
    client.force_login(user_in(name="nobody").user)
    without = client.get(path)
    for role in ("Analysts", "Customer care", "Identity stewards"):
        client.force_login(user_in(role, name=f"someone in {role}").user)
        assert client.get(path).status_code == 200, role

    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/app/login/?next={path}"
    assert without.status_code == 403


# --- Journeys ----------------------------------------------------------------------------


def test_journeys_page_shows_the_figures_of_the_reports_api(analyst, shoppers):
    page = analyst.get("/app/journeys/")

    assert page.status_code == 200
    tables = page.context["tables"]
    paths = api_report(analyst, "paths")
    assert paths == [
        {"path": "Display", "conversions": 1, "value": 30.0},
        {"path": "Paid Search > Email", "conversions": 1, "value": 120.0},
    ]
    # path, touches, conversions, revenue, revenue per conversion, share of conversions
    assert tables["paths"].rows == [
        ["Display", 1, 1, 30.0, 30.0, 50.0],
        ["Paid Search > Email", 2, 1, 120.0, 120.0, 50.0],
    ]
    assert api_report(analyst, "path-lengths") == {"distribution": {"1": 1, "2": 1}, "mean": 1.5}
    assert tables["path_lengths"].rows == [[1, 1, 50.0], [2, 1, 50.0]]
    # first touches 5 and 3 days before buying: median 4, mean 4, p90 3 + 0.9 x 2
    assert api_report(analyst, "time-to-convert") == {
        "median_days": 4.0,
        "mean_days": 4.0,
        "p90_days": 4.8,
        "distribution": {"3": 1, "5": 1},
    }
    assert tables["time_to_convert"].rows == [
        ["Median", 4.0],
        ["Mean", 4.0],
        ["90th percentile", 4.8],
        ["3 to 4 days", 1],
        ["5 to 6 days", 1],
    ]
    assisted = {row[0]: row[1:] for row in tables["assisted"].rows}
    assert assisted["Paid Search"] == [0, 1, ""]  # no last touch: no ratio
    assert assisted["Email"] == [1, 0, 0.0]
    assert assisted["Display"] == [1, 0, 0.0]
    assert [
        [row["channel"], row["last_touch_conversions"], row["assisted_conversions"]]
        for row in api_report(analyst, "assisted")
    ] == [row[:3] for row in tables["assisted"].rows]
    funnel = api_report(analyst, "funnel")
    assert [[row[0], row[1]] for row in tables["funnel"].rows] == [
        [row["stage"], row["profiles"]] for row in funnel
    ]
    # linear: Email 60, Paid Search 60, Display 30 of 150; 2 of 3 channels make 80%
    pareto = api_report(analyst, "pareto", model="linear")
    assert tables["pareto"].rows == [
        ["Email", 60.0, 40.0, 40.0],
        ["Paid Search", 60.0, 40.0, 80.0],
        ["Display", 30.0, 20.0, 100.0],
    ]
    assert [row["cumulative_share"] for row in pareto["rows"]] == [0.4, 0.8, 1.0]
    assert page.context["pareto"]["rows_for_share"] == pareto["rows_for_share"] == 2
    html = page.content.decode()
    assert 'data-figure="pareto">2 of 3<' in html
    assert 'data-figure="conversions">2<' in html
    assert set(page.context["charts"]) == {
        "paths",
        "path_lengths",
        "time_to_convert",
        "assisted",
        "funnel",
        "pareto",
    }


def test_sankey_links_add_up_each_path_to_the_conversion(analyst, shoppers):
    figure = json.loads(analyst.get("/app/journeys/").context["chart_json"]["paths"])
    sankey = figure["data"][0]
    labels = sankey["node"]["label"]
    links = {
        (labels[source], labels[target]): value
        for source, target, value in zip(
            sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"], strict=True
        )
    }

    assert sankey["type"] == "sankey"
    assert links == {
        ("Display", "Conversion"): 1,
        ("Paid Search", "Email"): 1,
        ("Email", "Conversion"): 1,
    }
    assert labels.count("Conversion") == 1


def test_pareto_by_campaign_and_model_as_in_the_address(analyst, shoppers):
    page = analyst.get("/app/journeys/", {"model": "last_touch", "group_by": "campaign"})

    api = api_report(analyst, "pareto", model="last_touch", group_by="campaign")
    assert page.status_code == 200
    assert page.context["tables"]["pareto"].columns[:2] == ["Channel", "Campaign"]
    assert page.context["tables"]["pareto"].rows == [
        ["Email", "autumn", 120.0, 80.0, 80.0],
        ["Display", "retarget", 30.0, 20.0, 100.0],
    ]
    assert [row["revenue"] for row in api["rows"]] == [120.0, 30.0]
    assert "Last touch" in page.content.decode()


def test_journeys_tables_download_as_csv_with_the_filters(analyst, shoppers):
    paths = analyst.get("/app/journeys/", {"download": "paths"})
    pareto = analyst.get(
        "/app/journeys/", {"download": "pareto", "model": "last_touch", "group_by": "campaign"}
    )

    assert paths["Content-Type"].startswith("text/csv")
    assert parse_csv(paths) == [
        ["Path", "Touches", "Conversions", "Revenue", "Revenue per conversion", "Share (%)"],
        ["Display", "1", "1", "30.0", "30.0", "50.0"],
        ["Paid Search > Email", "2", "1", "120.0", "120.0", "50.0"],
    ]
    assert parse_csv(pareto)[1:] == [
        ["Email", "autumn", "120.0", "80.0", "80.0"],
        ["Display", "retarget", "30.0", "20.0", "100.0"],
    ]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"goal": "nope"}, "Goal (goal)"),
        ({"model": "magic"}, "(model)"),
        ({"group_by": "country"}, "Pareto by (group_by)"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(analyst, shoppers, query, named):
    page = analyst.get("/app/journeys/", query)

    assert page.status_code == 400
    html = page.content.decode()
    assert named in html and "Select a valid choice" in html
    assert list(query.values())[0] in html
    assert '<form method="get" class="filters"' in html


def test_time_to_convert_is_a_histogram_of_whole_days(analyst, shoppers):
    """Runs store the conversions per whole day from first touch: the histogram's bars."""
    page = analyst.get("/app/journeys/")

    bars = json.loads(page.context["chart_json"]["time_to_convert"])["data"][0]
    assert (bars["x"], bars["y"]) == (["3", "5"], [1, 1])
    assert page.context["tables"]["time_to_convert"].rows[3:] == [
        ["3 to 4 days", 1],
        ["5 to 6 days", 1],
    ]


def test_a_goal_without_a_run_says_so(analyst):
    page = analyst.get("/app/journeys/")

    assert page.status_code == 200
    assert "No completed attribution run" in page.content.decode()


def test_journeys_page_reads_a_handful_of_queries(analyst, shoppers, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        assert analyst.get("/app/journeys/").status_code == 200


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
    assert [row[2:] for row in exports] == [["parisians-2.csv", 100, 20], ["old.csv", 1, 119]]
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
