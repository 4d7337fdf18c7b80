"""What SDKs send that Segment accepts is stored, never silently: the time rule, amounts
written for people, currencies in any spelling, the request's IP, the original keys."""

import base64
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from django.test import Client

from cdp.models import IngestCount, Touchpoint

pytestmark = pytest.mark.django_db


def basic(key):
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def send(key, path="/v1/track", client=None, **event):
    body = {"event": "Order Completed", "userId": "u-1", "messageId": "m-1"} | event
    return (client or Client()).post(
        path, orjson.dumps(body), "application/json", headers={"Authorization": basic(key)}
    )


@pytest.mark.parametrize(
    ("properties", "revenue", "currency", "warnings"),
    [
        ({"revenue": "$19.99", "currency": "usd"}, Decimal("19.99"), "USD", []),
        ({"revenue": "19,99 €", "currency": "EUR"}, Decimal("19.99"), "EUR", []),
        ({"revenue": "1.234,56", "currency": 978}, Decimal("1234.56"), "EUR", []),
        ({"total": 40, "currency": "036"}, Decimal("40.00"), "AUD", []),
        ({"revenue": "19.99 GBP"}, Decimal("19.99"), "GBP", []),
        (
            {"revenue": "ten", "currency": "USD"},
            None,
            "USD",
            [("unreadable_amount", "properties.revenue")],
        ),
        (
            {"revenue": 5, "currency": "US$"},
            Decimal("5.00"),
            "",
            [("unknown_currency", "properties.currency")],
        ),
        (
            {"revenue": -500000, "currency": "USD"},
            None,
            "USD",
            [("negative_amount", "properties.revenue")],
        ),
        (
            {"revenue": "1e30", "currency": "USD"},
            None,
            "USD",
            [("amount_out_of_range", "properties.revenue")],
        ),
        (
            {"revenue": 10, "price": "abc"},
            Decimal("10.00"),
            "",
            [("unreadable_amount", "properties.price")],
        ),
    ],
)
def test_amounts_and_currencies_are_read_leniently_and_each_doubt_is_a_warning(
    web_source, properties, revenue, currency, warnings
):
    source, key = web_source
    response = send(key, properties=properties)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(w["code"], w["field"]) for w in answer.get("warnings", [])] == warnings
    row = Touchpoint.objects.get()
    assert (row.revenue, row.currency) == (revenue, currency)
    assert row.properties == properties  # kept as sent
    counted = {(c.code, c.field): c.count for c in IngestCount.objects.filter(source=source)}
    assert counted == {warning: 1 for warning in warnings}


def test_a_refund_may_be_negative(web_source):
    _, key = web_source
    response = send(key, event="Order Refunded", properties={"revenue": "-$12.50"})
    assert "warnings" not in response.json()
    assert Touchpoint.objects.get().revenue == Decimal("-12.50")


@pytest.mark.parametrize(
    ("times", "expected", "warning"),
    [
        # An explicit timestamp wins over originalTimestamp and sentAt.
        (
            {"timestamp": "2024-01-02T03:04:05Z", "originalTimestamp": "2026-01-01T00:00:00Z"},
            "2024-01-02T03:04:05+00:00",
            None,
        ),
        ({"timestamp": "yesterday"}, "received", ("unreadable_timestamp", "timestamp")),
        (
            {"timestamp": "1969-07-20T20:17:00Z"},
            "received",
            ("timestamp_out_of_range", "timestamp"),
        ),
        (
            {"timestamp": "0001-01-01T00:00:00+01:00"},
            "received",
            ("unreadable_timestamp", "timestamp"),
        ),
        (
            {"timestamp": "9999-12-31T23:59:59-01:00"},
            "received",
            ("unreadable_timestamp", "timestamp"),
        ),
        (
            {"timestamp": "9999-12-31T23:00:00Z"},
            "received",
            ("timestamp_out_of_range", "timestamp"),
        ),
        # A bad sentAt leaves originalTimestamp uncorrected.
        (
            {"originalTimestamp": "2026-01-01T00:00:00Z", "sentAt": "soon"},
            "2026-01-01T00:00:00+00:00",
            ("unreadable_timestamp", "sentAt"),
        ),
        (
            {
                "originalTimestamp": "0001-01-01T00:30:00+01:00",
                "sentAt": "9999-12-31T23:30:00-01:00",
            },
            "received",
            ("unreadable_timestamp", "originalTimestamp"),
        ),
    ],
)
def test_times_follow_the_rule_and_a_time_not_believed_falls_back_with_a_warning(
    web_source, times, expected, warning
):
    _, key = web_source
    response = send(key, **times)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 1
    codes = [(w["code"], w["field"]) for w in answer.get("warnings", [])]
    assert codes[:1] == ([warning] if warning else [])
    row = Touchpoint.objects.get()
    if expected == "received":
        assert row.timestamp == row.received_at
    else:
        assert row.timestamp.isoformat() == expected


def test_a_bad_batch_sent_at_is_a_warning_on_each_event_not_a_refusal(web_source):
    _, key = web_source
    body = {
        "batch": [
            {"type": "track", "event": "A", "userId": "u", "messageId": "a"},
            {"type": "track", "event": "B", "userId": "u", "messageId": "b"},
        ],
        "sentAt": "not a time",
    }
    response = Client().post(
        "/v1/batch", orjson.dumps(body), "application/json", headers={"Authorization": basic(key)}
    )
    assert response.status_code == 200 and response.json()["accepted"] == 2
    assert [w["code"] for w in response.json()["warnings"]] == ["unreadable_timestamp"] * 2


def test_the_requests_ip_fills_an_event_without_one(web_source):
    _, key = web_source
    send(key, client=Client(REMOTE_ADDR="198.51.100.7"))
    row = Touchpoint.objects.get()
    assert row.ip == "198.51.100.7" and row.context["ip"] == "198.51.100.7"


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def test_a_pages_user_agent_header_fills_an_event_without_one(web_source):
    """A pixel or beacon from a page (it sends Origin) says nothing of its browser in the
    body: the request's User-Agent does, and is parsed like the SDKs' own."""
    _, key = web_source
    page = Client(headers={"Origin": "https://shop.example.com", "User-Agent": CHROME})
    send(key, client=page, messageId="from-page")
    send(key, client=page, messageId="own", context={"userAgent": "Mozilla/5.0 (iPhone)"})
    rows = {row.message_id: row for row in Touchpoint.objects.all()}
    assert rows["from-page"].user_agent == CHROME
    assert (rows["from-page"].browser, rows["from-page"].os) == ("Chrome", "Windows")
    assert rows["from-page"].is_bot is False
    assert rows["own"].user_agent == "Mozilla/5.0 (iPhone)"


def test_a_server_librarys_user_agent_is_not_taken_as_the_persons(web_source):
    _, key = web_source
    send(key, client=Client(headers={"User-Agent": "python-requests/2.32.3"}))
    row = Touchpoint.objects.get()
    assert (row.user_agent, row.is_bot) == ("", False)


def test_an_events_own_ip_wins(web_source):
    _, key = web_source
    send(key, client=Client(REMOTE_ADDR="198.51.100.7"), context={"ip": "203.0.113.9"})
    assert Touchpoint.objects.get().ip == "203.0.113.9"


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(web_source, settings):
    _, key = web_source
    settings.OMNITRAIL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    forwarded = {"X-Forwarded-For": "192.0.2.1, 203.0.113.50, 10.0.0.3"}
    proxy = Client(REMOTE_ADDR="10.0.0.2", headers=forwarded)
    stranger = Client(REMOTE_ADDR="198.51.100.7", headers=forwarded)
    send(key, client=proxy, messageId="via-proxy")
    send(key, client=stranger, messageId="direct")
    ips = dict(Touchpoint.objects.values_list("message_id", "ip"))
    # The last address before the trusted hops; a client's own X-Forwarded-For is not believed.
    assert ips == {"via-proxy": "203.0.113.50", "direct": "198.51.100.7"}


def test_ip_anonymisation_drops_the_host_part_before_storing(web_source, settings):
    _, key = web_source
    settings.OMNITRAIL_ANONYMIZE_IP = True
    send(key, client=Client(REMOTE_ADDR="198.51.100.7"), messageId="v4")
    send(key, context={"ip": "2001:db8:85a3:1234:5678:8a2e:370:7334"}, messageId="v6")
    rows = {row.message_id: row for row in Touchpoint.objects.all()}
    assert (rows["v4"].ip, rows["v4"].context["ip"]) == ("198.51.100.0", "198.51.100.0")
    assert (rows["v6"].ip, rows["v6"].context["ip"]) == ("2001:db8:85a3::", "2001:db8:85a3::")


def test_the_sdks_other_keys_are_kept_with_the_touchpoint(web_source):
    _, key = web_source
    extras = {
        "integrations": {"All": True, "Mixpanel": False},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": []},
        "channel": "web",
        "category": "Shop",
        "version": 2,
    }
    send(key, path="/v1/page", event=None, name="Sale", **extras)
    row = Touchpoint.objects.get()
    assert row.extras == extras
    assert row.event == "Sale"


def test_a_bot_is_flagged_parsed_and_counted(web_source):
    source, key = web_source
    agent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    send(key, context={"userAgent": agent}, messageId="bot")
    phone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    send(key, context={"userAgent": phone}, messageId="phone")
    rows = {row.message_id: row for row in Touchpoint.objects.all()}
    assert (rows["bot"].is_bot, rows["bot"].device_type) == (True, "bot")
    assert (rows["phone"].browser, rows["phone"].os, rows["phone"].device_type) == (
        "Mobile Safari",
        "iOS",
        "mobile",
    )
    assert rows["phone"].is_bot is False
    assert IngestCount.objects.get(source=source, code="bot").count == 1


def test_an_integer_id_of_any_length_is_stored_as_its_digits(web_source):
    _, key = web_source
    body = b'{"event": "X", "userId": 123456789012345678901234567890, "messageId": "m"}'
    response = Client().post(
        "/v1/track", body, "application/json", headers={"Authorization": basic(key)}
    )
    assert response.status_code == 200
    assert Touchpoint.objects.get().user_id == "123456789012345678901234567890"


def test_a_property_integer_beyond_64_bits_and_unicode_are_stored_exactly(web_source):
    # The COPY path writes JSON with orjson, and with the stdlib for what orjson refuses.
    _, key = web_source
    body = (
        '{"event": "X", "userId": "u", "messageId": "m", "properties": '
        '{"order": 98765432109876543210987, "city": "Zürich ☃", "n": [1, 2.5, null]}}'
    ).encode()
    response = Client().post(
        "/v1/track", body, "application/json", headers={"Authorization": basic(key)}
    )
    assert response.status_code == 200
    assert Touchpoint.objects.get().properties == {
        "order": 98765432109876543210987,
        "city": "Zürich ☃",
        "n": [1, 2.5, None],
    }


def test_warnings_are_counted_per_source_and_field_and_shown_to_operators(web_source, admin_client):
    source, key = web_source
    for index in range(3):
        send(key, messageId=f"m-{index}", properties={"revenue": "n/a"})
    response = admin_client.get(f"/api/v1/sources/{source.pk}/ingest-counts")
    assert response.status_code == 200
    [count] = response.json()
    assert (count["code"], count["field"], count["count"]) == (
        "unreadable_amount",
        "properties.revenue",
        3,
    )
    page = admin_client.get("/admin/cdp/ingestcount/")
    assert page.status_code == 200 and b"unreadable_amount" in page.content


def test_a_timestamp_just_ahead_is_kept(web_source):
    # A device a few minutes fast is not "absurd": only more than a day ahead is.
    _, key = web_source
    send(key, originalTimestamp=None)
    row = Touchpoint.objects.get()
    assert abs(row.timestamp - row.received_at) < timedelta(seconds=1)
