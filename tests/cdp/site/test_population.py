"""The demo population: seeded omnichannel files whose answers (who is who) are known.

Pure module, no database: the demo, the identity tests and the benchmarks rely on these
files being reproducible, well-formed and consistent with their ground truth.
"""

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from cdp.site.demo.population import generate_population
from cdp.site.demo.population.consents import PURPOSES
from cdp.site.demo.population.people import NICKNAMES
from cdp.site.demo.population.traffic import PAID_CAMPAIGNS

EVENT_FILES = ("web.ndjson", "app.ndjson", "email.ndjson")
CSV_FILES = ("pos.csv", "crm.csv", "consents.csv", "ad_costs.csv", "ground_truth.csv")
ALL_FILES = EVENT_FILES + CSV_FILES
HEADERS = {
    "pos.csv": "message_id,timestamp,event,user_id,traits.loyalty_id,traits.email,order_id,"
    "store_id,revenue,currency",
    "crm.csv": "crm_id,first_name,last_name,email,phone,birthday,street,city,postal_code,state,"
    "country,loyalty_id",
    "consents.csv": "timestamp,user_id,email,purpose,status,source",
    "ad_costs.csv": "date,channel,source,medium,campaign,cost,currency,impressions,clicks",
    "ground_truth.csv": "person_id,source,kind,value",
}
ISO_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SEGMENT_TYPES = {"track", "identify", "page", "screen"}
# The default window ends today (UTC): its 90 days are the 90 before today.
TODAY = dt.datetime.now(dt.UTC).date()
WINDOW_START = dt.datetime.combine(TODAY - dt.timedelta(days=90), dt.time(), tzinfo=dt.UTC)
WINDOW_END = WINDOW_START + dt.timedelta(days=90)


def messages(folder, name):
    with (folder / name).open("rb") as lines:
        return [orjson.loads(line) for line in lines]


def rows(folder, name):
    with (folder / name).open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def moment(timestamp):
    return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


class Population:
    """One generated folder, parsed once."""

    def __init__(self, folder, counts, customers):
        self.folder = folder
        self.counts = counts
        self.customers = customers
        self.web = messages(folder, "web.ndjson")
        self.app = messages(folder, "app.ndjson")
        self.email = messages(folder, "email.ndjson")
        self.pos = rows(folder, "pos.csv")
        self.crm = rows(folder, "crm.csv")
        self.consents = rows(folder, "consents.csv")
        self.ad_costs = rows(folder, "ad_costs.csv")
        self.truth = rows(folder, "ground_truth.csv")
        self.owners = defaultdict(set)  # identifier value → people
        for row in self.truth:
            self.owners[row["value"]].add(row["person_id"])

    def owner(self, value):
        (person,) = self.owners[value]
        return person

    def landings(self):
        """Web page views that start a visit: the referrer is not the shop itself."""
        return [
            message
            for message in self.web
            if message["type"] == "page"
            and not message["context"]["page"]["referrer"].startswith("https://shop.example.com")
        ]


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    folder = tmp_path_factory.mktemp("population")
    return Population(folder, generate_population(500, 7, folder), 500)


@pytest.fixture(scope="module")
def large_web_events(tmp_path_factory):
    """Website events of a population large enough for conversion rates to settle."""
    folder = tmp_path_factory.mktemp("large-population")
    generate_population(2000, 11, folder)
    return messages(folder, "web.ndjson")


# -- reproducibility


def test_same_seed_writes_identical_files(tmp_path):
    generate_population(150, 3, tmp_path / "first")
    generate_population(150, 3, tmp_path / "second")
    for name in ALL_FILES:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()


def test_another_seed_writes_different_files(tmp_path):
    generate_population(150, 3, tmp_path / "first")
    generate_population(150, 4, tmp_path / "second")
    for name in ALL_FILES:
        assert (tmp_path / "first" / name).read_bytes() != (tmp_path / "second" / name).read_bytes()


def test_summary_counts_the_rows_of_every_file(population):
    assert list(population.counts) == [
        "web.ndjson",
        "app.ndjson",
        "email.ndjson",
        "pos.csv",
        "crm.csv",
        "consents.csv",
        "ad_costs.csv",
        "ground_truth.csv",
    ]
    for name in EVENT_FILES:
        lines = (population.folder / name).read_bytes().splitlines()
        assert population.counts[name] == len(lines) > 0
    for name in CSV_FILES:
        assert population.counts[name] == len(rows(population.folder, name)) > 0


def test_csv_files_have_the_documented_headers(population):
    for name, header in HEADERS.items():
        first_line = (population.folder / name).read_text(encoding="utf-8").split("\n", 1)[0]
        assert first_line == header


def test_two_hundred_customers_make_a_few_thousand_web_events(tmp_path):
    counts = generate_population(200, 1, tmp_path)
    assert 1_500 <= counts["web.ndjson"] <= 8_000


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="customers"):
        generate_population(0, 1, tmp_path)
    with pytest.raises(ValueError, match="days"):
        generate_population(10, 1, tmp_path, days=0)


# -- Segment messages


def test_every_event_is_a_valid_segment_message(population):
    for message in population.web + population.app + population.email:
        assert message["type"] in SEGMENT_TYPES
        assert isinstance(message["messageId"], str) and message["messageId"]
        assert message.get("anonymousId") or message.get("userId")
        assert ISO_MILLIS_Z.match(message["timestamp"])
        assert isinstance(message["context"], dict)
        if message["type"] == "track":
            assert message["event"]
            assert isinstance(message["properties"], dict)
        if message["type"] in ("page", "screen"):
            assert message["name"]
        if message["type"] == "identify":
            assert message["traits"]["email"]


def test_message_ids_are_unique_across_all_files(population):
    ids = [message["messageId"] for message in population.web + population.app + population.email]
    ids += [row["message_id"] for row in population.pos]
    assert len(ids) == len(set(ids))


def test_website_anonymous_ids_are_always_present(population):
    assert all(message["anonymousId"] for message in population.web + population.app)
    assert all(message["userId"] and "anonymousId" not in message for message in population.email)


def test_timestamps_fall_in_the_default_window(population):
    stamps = [message["timestamp"] for message in population.web + population.app]
    stamps += [message["timestamp"] for message in population.email]
    stamps += [row["timestamp"] for row in population.pos + population.consents]
    assert all(WINDOW_START <= moment(stamp) < WINDOW_END for stamp in stamps)
    dates = sorted({row["date"] for row in population.ad_costs})
    assert dates[0] == (TODAY - dt.timedelta(days=90)).isoformat()
    assert dates[-1] == (TODAY - dt.timedelta(days=1)).isoformat() and len(dates) == 90


def test_start_and_days_set_the_window(tmp_path):
    generate_population(60, 5, tmp_path, start=dt.date(2025, 3, 1), days=7)
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=7)
    stamps = [m["timestamp"] for name in EVENT_FILES for m in messages(tmp_path, name)]
    stamps += [row["timestamp"] for row in rows(tmp_path, "pos.csv")]
    assert stamps and all(start <= moment(stamp) < end for stamp in stamps)
    assert {row["date"] for row in rows(tmp_path, "ad_costs.csv")} == {
        f"2025-03-0{day}" for day in range(1, 8)
    }


def test_orders_carry_id_revenue_currency_and_products(population):
    orders = [
        message
        for message in population.web + population.app
        if message.get("event") == "Order Completed"
    ]
    assert orders
    for order in orders:
        properties = order["properties"]
        assert properties["order_id"] and properties["currency"] == "USD"
        assert properties["products"]
        total = sum(item["price"] * item["quantity"] for item in properties["products"])
        assert properties["revenue"] == round(total, 2)


def test_app_events_describe_the_device_and_the_app(population):
    for message in population.app:
        device = message["context"]["device"]
        assert device["id"] and device["type"] in ("ios", "android") and device["model"]
        assert message["context"]["app"]["version"]
        assert message["context"]["os"]["name"] in ("iOS", "Android")
    events = Counter(message.get("event") for message in population.app)
    assert events["Order Completed"] > 0 and events["Push Notification Opened"] > 0
    assert Counter(message["type"] for message in population.app)["screen"] > 0


# -- traffic and campaigns


def test_utm_tagged_page_views_carry_the_campaign_of_their_url(population):
    tagged = 0
    for message in population.web:
        url = message["context"]["page"]["url"]
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        campaign = message["context"].get("campaign")
        if "utm_source" not in query:
            assert campaign is None
            continue
        tagged += 1
        assert campaign == {
            key: query[f"utm_{field}"]
            for key, field in (
                ("name", "campaign"),
                ("source", "source"),
                ("medium", "medium"),
                ("term", "term"),
                ("content", "content"),
            )
            if f"utm_{field}" in query
        }
    assert tagged > 100


def test_paid_search_visits_carry_the_ad_platform_click_id(population):
    for message in population.landings():
        campaign = message["context"].get("campaign") or {}
        query = parse_qs(urlsplit(message["context"]["page"]["url"]).query)
        if campaign.get("source") == "google" and campaign.get("medium") == "cpc":
            assert "gclid" in query
        if campaign.get("source") == "bing":
            assert "msclkid" in query


def test_visits_arrive_from_every_channel(population):
    mediums = Counter()
    for message in population.landings():
        campaign = message["context"].get("campaign")
        referrer = message["context"]["page"]["referrer"]
        if campaign:
            mediums[campaign["medium"]] += 1
        elif referrer.startswith("https://www.google.com/"):
            mediums["organic search"] += 1
        elif referrer.startswith("https://www.facebook.com/"):
            mediums["organic social"] += 1
        elif referrer:
            mediums["referral"] += 1
        else:
            mediums["direct"] += 1
    expected = {"email", "cpc", "paid_social", "display", "affiliate", "organic search"}
    expected |= {"organic social", "referral", "direct"}
    assert expected <= set(mediums)


def test_ad_cost_campaigns_match_the_utm_campaigns_on_the_website(population):
    web_campaigns = {
        message["context"]["campaign"]["name"]
        for message in population.web
        if "campaign" in message["context"]
    }
    cost_campaigns = {row["campaign"] for row in population.ad_costs}
    assert web_campaigns <= cost_campaigns
    assert {campaign.name for campaign in PAID_CAMPAIGNS} <= web_campaigns
    channels = {row["channel"] for row in population.ad_costs}
    assert channels == {"Paid Search", "Paid Social", "Display", "Affiliates", "Email"}


def test_ad_platforms_count_at_least_the_clicks_that_arrived(population):
    paid = {campaign.name for campaign in PAID_CAMPAIGNS}
    arrived = Counter()
    for message in population.landings():
        campaign = message["context"].get("campaign")
        if campaign and campaign["name"] in paid:
            arrived[(message["timestamp"][:10], campaign["name"])] += 1
    reported = {(row["date"], row["campaign"]): int(row["clicks"]) for row in population.ad_costs}
    for key, count in arrived.items():
        assert reported[key] >= count
    days = {row["date"] for row in population.ad_costs}
    assert len(population.ad_costs) >= len(days) * len(PAID_CAMPAIGNS)


def test_paid_search_and_email_convert_better_than_display(large_web_events):
    visits, orders = Counter(), Counter()
    current = {}
    for message in large_web_events:
        if message["type"] == "page":
            page = message["context"]["page"]
            if not page["referrer"].startswith("https://shop.example.com"):
                campaign = message["context"].get("campaign") or {}
                current[message["anonymousId"]] = campaign.get("medium", "unpaid")
                visits[current[message["anonymousId"]]] += 1
        elif message.get("event") == "Order Completed":
            orders[current[message["anonymousId"]]] += 1

    def rate(medium):
        return orders[medium] / visits[medium]

    assert rate("cpc") > rate("display")
    assert rate("email") > rate("display")
    assert 0.005 < orders.total() / visits.total() < 0.06


# -- identity and ground truth


def _identifiers_in_files(population) -> list[tuple[str, str, str]]:
    """Every (source, kind, value) the files carry, as ingestion and imports read them."""
    seen = []
    for source, events in (("web", population.web), ("app", population.app)):
        for message in events:
            seen.append((source, "anonymous_id", message["anonymousId"]))
            if "userId" in message:
                seen.append((source, "user_id", message["userId"]))
            if message["type"] == "identify":
                seen.append((source, "email", message["traits"]["email"]))
            if source == "app":
                seen.append((source, "device_id", message["context"]["device"]["id"]))
    for message in population.email:
        seen.append(("email", "user_id", message["userId"]))
        seen.append(("email", "email", message["context"]["traits"]["email"]))
    for row in population.pos:
        seen.append(("pos", "user_id", row["user_id"]))
        seen.append(("pos", "loyalty_id", row["traits.loyalty_id"]))
        seen.append(("pos", "email", row["traits.email"]))
    for row in population.crm:
        seen.append(("crm", "crm_id", row["crm_id"]))
        seen.append(("crm", "email", row["email"]))
        seen.append(("crm", "loyalty_id", row["loyalty_id"]))
    return seen


def test_every_identifier_in_the_files_belongs_to_exactly_one_person(population):
    truth = {(row["source"], row["kind"], row["value"]) for row in population.truth}
    for source, kind, value in _identifiers_in_files(population):
        if value:
            assert (source, kind, value) in truth
            assert len(population.owners[value]) == 1, value
    for row in population.consents:
        for value in (row["user_id"], row["email"]):
            if value:
                assert len(population.owners[value]) == 1
    assert {row["person_id"] for row in population.truth} == {
        f"P{number:06d}" for number in range(1, population.customers + 1)
    }


def test_signed_in_devices_are_tied_to_the_account_by_an_identify(population):
    for events in (population.web, population.app):
        first_signed_in = {}
        for message in sorted(events, key=lambda message: message["timestamp"]):
            if "userId" in message and message["anonymousId"] not in first_signed_in:
                first_signed_in[message["anonymousId"]] = message
        assert first_signed_in
        for anonymous_id, message in first_signed_in.items():
            assert message["type"] == "identify"
            assert population.owner(anonymous_id) == population.owner(message["userId"])


def test_people_with_an_account_sign_in_on_their_devices(population):
    accounts = defaultdict(set)
    identified_together = defaultdict(set)
    for row in population.truth:
        if row["kind"] == "user_id":
            accounts[row["person_id"]].add(row["value"])
    for message in population.web + population.app:
        if message["type"] == "identify" and "userId" in message:
            identified_together[population.owner(message["userId"])].add(message["anonymousId"])
    assert accounts
    for person in accounts:
        assert identified_together[person], person
    assert 0.5 < len(accounts) / population.customers < 0.7


def test_shares_of_people_with_each_kind_of_identifier(population):
    people_with = defaultdict(set)
    for row in population.truth:
        people_with[row["kind"]].add(row["person_id"])
    share = {kind: len(people) / population.customers for kind, people in people_with.items()}
    assert share["anonymous_id"] == 1.0
    assert 0.35 < share["loyalty_id"] < 0.6
    assert 0.6 < share["crm_id"] < 0.8
    assert 0.3 < share["device_id"] < 0.5


def test_email_clicks_are_usually_followed_by_an_email_visit(population):
    email_visits = defaultdict(list)
    for message in population.landings():
        campaign = message["context"].get("campaign")
        if campaign and campaign["medium"] == "email":
            person = population.owner(message["anonymousId"])
            email_visits[person].append((moment(message["timestamp"]), campaign["name"]))
    clicks = [message for message in population.email if message["event"] == "Email Link Clicked"]
    followed = 0
    for click in clicks:
        clicked_at = moment(click["timestamp"])
        person = population.owner(click["userId"])
        followed += any(
            name == click["properties"]["campaign_name"]
            and dt.timedelta(0) <= visited_at - clicked_at <= dt.timedelta(seconds=60)
            for visited_at, name in email_visits[person]
        )
    assert clicks and followed / len(clicks) > 0.75


# -- consent


def consent_status(consents, user_id, purpose, at):
    status = None
    for row in consents:
        if row["user_id"] == user_id and row["purpose"] == purpose and row["timestamp"] <= at:
            status = row["status"]
    return status


def test_emails_go_only_to_account_holders_who_consented(population):
    by_user = defaultdict(list)
    for row in sorted(population.consents, key=lambda row: row["timestamp"]):
        by_user[row["user_id"]].append(row)
    delivered = [message for message in population.email if message["event"] == "Email Delivered"]
    assert delivered
    for message in delivered:
        consents = by_user[message["userId"]]
        status = consent_status(
            consents, message["userId"], "email_marketing", message["timestamp"]
        )
        assert status == "granted"


def test_consents_are_mostly_granted_for_analytics_and_less_for_ads(population):
    assert {row["purpose"] for row in population.consents} == set(PURPOSES)
    assert {row["status"] for row in population.consents} == {"granted", "denied", "withdrawn"}
    granted = Counter(row["purpose"] for row in population.consents if row["status"] == "granted")
    assert granted["analytics"] > granted["ad_user_data"] > 0
    assert granted["analytics"] > granted["ad_personalization"] > 0
    assert any(row["status"] == "withdrawn" for row in population.consents)


# -- CRM and POS


def test_crm_records_carry_nicknames_typos_and_missing_fields(population):
    true_first_names = {}
    for message in population.web + population.app:
        if message["type"] == "identify" and "first_name" in message["traits"]:
            true_first_names[population.owner(message["traits"]["email"])] = message["traits"][
                "first_name"
            ]
    nicknames = misspelled = 0
    for row in population.crm:
        true_name = true_first_names.get(population.owner(row["crm_id"]))
        if true_name is None or row["first_name"] == true_name:
            continue
        if row["first_name"] == NICKNAMES.get(true_name):
            nicknames += 1
        else:
            misspelled += 1
    assert nicknames > 0 and misspelled > 0
    assert any(row["email"] and row["email"] != row["email"].lower() for row in population.crm)
    for field in ("email", "phone", "birthday"):
        assert any(row[field] == "" for row in population.crm), field


def test_crm_phones_are_written_in_varied_formats(population):
    phones = [row["phone"] for row in population.crm if row["phone"]]
    for written in (r"\(\d{3}\) \d{3}-\d{4}", r"\d{3}\.\d{3}\.\d{4}", r"\+1 \d{3} \d{3} \d{4}"):
        assert any(re.fullmatch(written, phone) for phone in phones), written


def test_some_people_have_two_crm_records(population):
    records = Counter(
        population.owner(row["crm_id"])
        for row in population.crm
        if not row["crm_id"].startswith("STORE-")  # store sign-ups: tested below
    )
    duplicated = sum(1 for count in records.values() if count == 2)
    assert max(records.values()) == 2
    # 5% noisy duplicates, and a fifth of the others a second row no key ties to them.
    assert 0.12 < duplicated / len(records) < 0.35


def test_untied_crm_rows_share_no_identifier_with_their_person(population):
    untied = [row for row in population.crm if row["email"].endswith("@old-isp.example")]
    assert len(untied) > 10
    by_owner = {}
    for row in population.crm:
        if not row["crm_id"].startswith("STORE-"):
            by_owner.setdefault(population.owner(row["crm_id"]), []).append(row)
    for row in untied:
        (first,) = [
            other for other in by_owner[population.owner(row["crm_id"])] if other is not row
        ]
        assert not row["phone"] and not row["loyalty_id"] and row["email"] != first["email"]
        assert row["last_name"] != first["last_name"]


def test_store_signups_under_a_nickname_share_no_identifier(population):
    signups = [row for row in population.crm if row["crm_id"].startswith("STORE-")]
    assert len(signups) > 5
    formal = {nickname: name for name, nickname in NICKNAMES.items()}
    for row in signups:
        assert row["first_name"] in formal
        assert not (row["email"] or row["phone"] or row["loyalty_id"])
        assert row["birthday"] and row["postal_code"] and row["last_name"]


def test_second_device_signups_share_no_identifier(population):
    signups = [
        m
        for m in population.web
        if m["type"] == "identify" and m["traits"].get("email", "").endswith("@work.example")
    ]
    assert len(signups) > 5
    for message in signups:
        assert "userId" not in message
        assert {"first_name", "last_name", "birthday", "postal_code"} <= set(message["traits"])
        others = [
            m
            for m in population.web
            if m["anonymousId"] == message["anonymousId"] and m is not message
        ]
        assert not others  # a browser of its own


def test_pos_purchases_identify_the_shopper_by_loyalty_id_or_email(population):
    assert population.pos
    for row in population.pos:
        assert row["event"] == "Order Completed" and row["currency"] == "USD"
        assert row["traits.loyalty_id"] or row["traits.email"]
        assert re.fullmatch(r"\d+\.\d\d", row["revenue"])
    assert any(not row["traits.loyalty_id"] and row["traits.email"] for row in population.pos)
    with_user_id = sum(1 for row in population.pos if row["user_id"])
    assert with_user_id < len(population.pos) / 4
