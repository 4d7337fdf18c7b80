"""The Segment HTTP API: what clients get back, and what is stored, for good and bad input."""

from decimal import Decimal

import pytest

from cdp.models import RejectedEvent, Touchpoint

pytestmark = pytest.mark.django_db


def track(**overrides):
    event = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2026-09-01T10:00:00.000Z",
        "properties": {"revenue": 59.9, "currency": "usd"},
        "context": {
            "campaign": {"source": "google", "medium": "cpc", "name": "autumn"},
            "page": {"url": "https://shop.example/?utm_source=google", "referrer": "https://g.co"},
            "ip": "203.0.113.9",
            "userAgent": "Mozilla/5.0",
        },
    }
    event.update(overrides)
    return event


def test_track_is_stored_with_its_campaign_revenue_and_page(web_source, segment_post):
    source, key = web_source
    response = segment_post("track", track(), write_key=key)
    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 1, "duplicates": 0, "rejected": []}
    row = Touchpoint.objects.get()
    assert (row.source, row.type, row.event, row.user_id, row.message_id) == (
        source,
        "track",
        "Order Completed",
        "u-1",
        "m-1",
    )
    assert (row.utm_source, row.utm_medium, row.utm_campaign) == ("google", "cpc", "autumn")
    assert row.revenue == Decimal("59.90") and row.currency == "USD"
    assert row.page_url == "https://shop.example/?utm_source=google"
    assert row.referrer == "https://g.co"
    assert row.ip == "203.0.113.9" and row.user_agent == "Mozilla/5.0"
    assert row.timestamp.isoformat() == "2026-09-01T10:00:00+00:00"


def test_clock_skew_is_corrected_from_sent_at(web_source, segment_post):
    _, key = web_source
    # The device clock is 1 hour fast: the event happened 5 s before it was sent.
    event = track(
        timestamp=None, originalTimestamp="2026-09-01T11:00:00Z", sentAt="2026-09-01T11:00:05Z"
    )
    segment_post("track", event, write_key=key)
    row = Touchpoint.objects.get()
    assert (row.received_at - row.timestamp).total_seconds() == pytest.approx(5, abs=0.001)
    assert row.original_timestamp.isoformat() == "2026-09-01T11:00:00+00:00"


def test_an_explicit_timestamp_is_the_event_time_whatever_the_other_clocks_say(
    web_source, segment_post
):
    # rudder-sdk-node sets originalTimestamp to "now" beside a historical timestamp.
    _, key = web_source
    event = track(
        timestamp="2024-01-02T03:04:05.678Z",
        originalTimestamp="2026-09-01T11:00:00Z",
        sentAt="2026-09-01T11:00:05Z",
    )
    segment_post("track", event, write_key=key)
    row = Touchpoint.objects.get()
    assert row.timestamp.isoformat() == "2024-01-02T03:04:05.678000+00:00"


def test_utm_parameters_are_read_from_the_page_url_when_campaign_is_absent(
    web_source, segment_post
):
    _, key = web_source
    url = "https://shop.example/p?utm_source=newsletter&utm_medium=email&utm_campaign=sept"
    event = track(context={"page": {"url": url}})
    segment_post("track", event, write_key=key)
    row = Touchpoint.objects.get()
    assert (row.utm_source, row.utm_medium, row.utm_campaign) == ("newsletter", "email", "sept")


def test_gzip_batch_is_accepted(web_source, segment_post):
    _, key = web_source
    batch = {"batch": [track(messageId=f"m-{i}") for i in range(3)]}
    response = segment_post("batch", batch, write_key=key, gzip=True)
    assert response.status_code == 200
    assert Touchpoint.objects.count() == 3


def test_retried_batch_stores_nothing_twice(web_source, segment_post):
    _, key = web_source
    batch = {"batch": [track(messageId=f"m-{i}") for i in range(3)]}
    segment_post("batch", batch, write_key=key)
    response = segment_post("batch", batch, write_key=key)
    assert response.json()["duplicates"] == 3 and response.json()["accepted"] == 0
    assert Touchpoint.objects.count() == 3


def test_write_key_is_accepted_in_the_body(web_source, segment_post):
    source, key = web_source
    response = segment_post("track", {**track(), "writeKey": key}, write_key=None)
    assert response.status_code == 200
    row = Touchpoint.objects.get()
    assert (row.source, row.message_id, row.event, row.user_id) == (
        source,
        "m-1",
        "Order Completed",
        "u-1",
    )
    assert row.revenue == Decimal("59.90")
    # The key is how the request authenticated, never part of the stored event.
    assert "writeKey" not in row.extras and key not in str(row.context)


@pytest.mark.parametrize(
    ("raw", "encoding", "code", "named"),
    [
        (b"{not json", None, "invalid_json", "body"),
        (b"[1, 2]", None, "invalid_json", "body"),
        (b"this is not gzip", "gzip", "invalid_gzip", "gzip"),
    ],
)
def test_unreadable_bodies_get_400_and_are_kept_for_the_operator(
    web_source, segment_post, raw, encoding, code, named
):
    _, key = web_source
    response = segment_post("track", None, write_key=key, raw=raw, encoding=encoding)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert named in response.json()["message"]
    assert Touchpoint.objects.count() == 0
    assert RejectedEvent.objects.get().code == code


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        ({"type": "track", "userId": "u"}, "event", "missing_field"),
        ({"type": "track", "event": "X"}, "userId", "missing_field"),
        (
            {"type": "track", "event": "X", "userId": "u", "properties": "x"},
            "properties",
            "invalid_field",
        ),
        ({"type": "track", "event": ["X"], "userId": "u"}, "event", "invalid_field"),
        # An unreadable timestamp or amount is no refusal: tests/cdp/web/test_lenient_values.py.
        ({"type": "alias", "userId": "u"}, "previousId", "missing_field"),
    ],
)
def test_invalid_event_gets_400_naming_the_field(web_source, segment_post, event, field, code):
    _, key = web_source
    response = segment_post(event["type"], event, write_key=key)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == (code, field)
    assert body["message"].startswith(f"{field}:")
    assert RejectedEvent.objects.get().payload["type"] == event["type"]


def test_event_over_32_kb_gets_413(web_source, segment_post):
    _, key = web_source
    response = segment_post("track", track(properties={"blob": "x" * 33 * 1024}), write_key=key)
    assert response.status_code == 413
    assert response.json()["code"] == "event_too_large"
    assert "32 KB" in response.json()["message"]


def test_batch_over_500_kb_gets_413(web_source, segment_post):
    _, key = web_source
    events = [track(messageId=f"m-{i}", properties={"blob": "x" * 20_000}) for i in range(30)]
    response = segment_post("batch", {"batch": events}, write_key=key)
    assert response.status_code == 413
    assert response.json()["code"] == "batch_too_large"
    assert "500 KB" in response.json()["message"]
    assert Touchpoint.objects.count() == 0


def test_unknown_key_gets_401_and_stores_nothing(web_source, segment_post):
    response = segment_post("track", track(), write_key="not-a-key")
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_write_key",
        "message": "writeKey: unknown write key",
        "field": "writeKey",
    }
    assert Touchpoint.objects.count() == 0


def test_missing_key_gets_401(db, segment_post):
    response = segment_post("track", track(), write_key=None)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_write_key"


def test_disabled_source_gets_401(web_source, segment_post):
    source, key = web_source
    source.enabled = False
    source.save()
    response = segment_post("track", track(), write_key=key)
    assert response.status_code == 401
    assert response.json()["code"] == "source_disabled"
    assert Touchpoint.objects.count() == 0


def test_a_source_disabled_or_rotated_after_use_is_refused_at_once(web_source, segment_post):
    """The web process keeps a write key's source for a moment (no query per single
    event); a change in this process is seen by the very next request."""
    from cdp.services.sources import rotate_write_key

    source, key = web_source
    assert segment_post("track", track(messageId="before"), write_key=key).status_code == 200
    new_key = rotate_write_key(source)
    refused = segment_post("track", track(messageId="old-key"), write_key=key)
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_write_key")
    assert segment_post("track", track(messageId="new-key"), write_key=new_key).status_code == 200
    source.enabled = False
    source.save()
    refused = segment_post("track", track(messageId="disabled"), write_key=new_key)
    assert (refused.status_code, refused.json()["code"]) == (401, "source_disabled")
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == [
        "before",
        "new-key",
    ]


def test_batch_mixing_good_and_bad_events_stores_the_good_and_names_the_bad(
    web_source, segment_post
):
    _, key = web_source
    batch = [
        track(messageId="ok-1"),
        {"type": "track", "userId": "u", "messageId": "bad-1"},
        track(messageId="ok-2"),
        "not an object",
        {"type": "teleport", "userId": "u"},
    ]
    response = segment_post("batch", {"batch": batch}, write_key=key)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "batch[1].event"),
        (3, "batch[3]"),
        (4, "batch[4].type"),
    ]
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["ok-1", "ok-2"]
    kept = RejectedEvent.objects.order_by("index")
    assert [r.index for r in kept] == [1, 3, 4]
    assert kept[0].payload == batch[1]


def test_rate_limited_source_gets_429_with_retry_after(web_source, segment_post):
    source, key = web_source
    source.rate_limit = 2
    source.save()
    batch = {"batch": [track(messageId=f"m-{i}") for i in range(3)]}
    response = segment_post("batch", batch, write_key=key)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "rate_limited"
    assert Touchpoint.objects.count() == 0


def test_rejected_event_can_be_fixed_and_resubmitted(web_source, segment_post):
    from cdp.services.ingest import resubmit_rejected

    _, key = web_source
    segment_post("track", {"type": "track", "userId": "u", "messageId": "late"}, write_key=key)
    rejected = RejectedEvent.objects.get()
    rejected.payload["event"] = "Signed Up"
    rejected.save()
    result = resubmit_rejected(rejected)
    assert result.accepted == 1
    rejected.refresh_from_db()
    assert rejected.status == RejectedEvent.Status.RESUBMITTED
    assert Touchpoint.objects.get().event == "Signed Up"
