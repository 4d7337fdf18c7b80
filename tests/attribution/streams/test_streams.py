"""Event streams, against a receiver on a loopback port: the events a destination asked
for arrive in the Segment message format, signed, consent and `integrations` opt-outs
honoured; a failure is parked as failed (the dead-letter list) and retried from the
admin; a replay sends exactly the range once more."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from attribution.streams.models import StreamBatch, StreamDestination
from attribution.streams.services import due_batches, opted_in, send_batch
from cdp.models import Source
from consent.models import Purpose
from consent.selectors import profile_by_identifier
from consent.services import record_consent

NOW = timezone.now().replace(microsecond=0)
SECRET = "stream-s3cret"


def ago(**delta) -> str:
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


class Receiver(BaseHTTPRequestHandler):
    """An endpoint that answers 503 to the first `fail` requests, then 200."""

    received: list = []
    fail = 0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.fail > 0:
            cls.fail -= 1
            self.send_response(503)
        else:
            cls.received.append((dict(self.headers), body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received, Receiver.fail = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def messages(received=None):
    """Every message received, in order, each batch's signature checked."""
    out = []
    for headers, body in received if received is not None else Receiver.received:
        stamp, _, digest = headers["X-Omnitrail-Signature"].partition(",v1=")
        stamp = stamp.removeprefix("t=")
        expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        assert hmac.compare_digest(expected.hexdigest(), digest)
        out += json.loads(body)["batch"]
    return out


def pid(user):
    return profile_by_identifier(f"user_id:{user}").pk


@pytest.fixture
def stream(db, receiver, deliver):
    """A destination for the web source's "Order Completed" and "Product Viewed" track
    events, for profiles that allow ad_user_data (opt-in: ann granted it, bob did not)."""
    deliver(*({"type": "identify", "userId": u, "traits": {"email": f"{u}@example.com"}}
              for u in ("ann", "bob")))  # fmt: skip
    deliver({"type": "identify", "userId": "ann"}, source="till", kind="pos")
    record_consent(pid("ann"), "ad_user_data", "granted", channel="api")
    made = StreamDestination.objects.create(
        name="Warehouse",
        url=f"http://127.0.0.1:{receiver.server_port}/v1/batch",
        secret=SECRET,
        purpose=Purpose.objects.get(key="ad_user_data"),
        event_names=["Order Completed", "Product Viewed"],
        types=["track"],
        batch_size=2,
        max_attempts=2,
    )
    made.sources.add(Source.objects.get(name="web"))
    return made


def track(user, event, days, **extra):
    return {"type": "track", "userId": user, "event": event, "timestamp": ago(days=days),
            "properties": {"sku": f"{event[:1]}-{days}"}, **extra}  # fmt: skip


@pytest.mark.django_db
def test_the_asked_for_events_of_consenting_profiles_arrive_in_segment_format(stream, deliver):
    sent = deliver(
        track("ann", "Order Completed", 3, properties={"revenue": 120}),
        track("ann", "Product Viewed", 2),
        track("ann", "Product Viewed", 1, context={"integrations": {"All": False}}),
        track("ann", "Cart Viewed", 1),  # not an event it asked for
        {"type": "page", "userId": "ann", "name": "Home", "timestamp": ago(days=1)},  # a page
        track("bob", "Order Completed", 1),  # bob's consent does not allow it
    )
    deliver(track("ann", "Order Completed", 1), source="till", kind="pos")  # another source

    got = messages()
    assert len(Receiver.received) == 1  # one batch of two
    assert [m["messageId"] for m in got] == [sent[0]["messageId"], sent[1]["messageId"]]
    first = got[0]
    assert {k: first[k] for k in ("type", "event", "userId", "properties", "timestamp")} == {
        "type": "track",
        "event": "Order Completed",
        "userId": "ann",
        "properties": {"revenue": 120},
        "timestamp": ago(days=3),
    }
    assert {"receivedAt", "context", "integrations"} <= first.keys()
    headers = Receiver.received[0][0]
    batch = StreamBatch.objects.get()
    assert headers["X-Omnitrail-Batch"] == str(batch.pk) and batch.status == "sent"
    stream.refresh_from_db()
    assert (stream.forwarded, stream.left_out_for_consent, stream.opted_out) == (2, 1, 1)

    deliver(track("ann", "Order Completed", 0))  # the cursor moved on: only the new one
    assert [m["event"] for m in messages(Receiver.received[1:])] == ["Order Completed"]


def test_integrations_follow_segments_rule():
    assert opted_in({}, "Warehouse")
    assert not opted_in({"All": False}, "Warehouse")
    assert opted_in({"All": False, "Warehouse": True}, "Warehouse")
    assert opted_in({"All": False, "Warehouse": {"setting": 1}}, "Warehouse")
    assert not opted_in({"Warehouse": False}, "Warehouse")


@pytest.mark.django_db
def test_a_failure_is_parked_then_retried_from_the_admin(
    stream, deliver, admin_client, django_capture_on_commit_callbacks
):
    Receiver.fail = 5
    sent = deliver(track("ann", "Order Completed", 1))
    batch = StreamBatch.objects.get()
    assert (batch.status, batch.attempts, batch.last_error) == ("pending", 1, "HTTP 503")
    assert batch.next_attempt_at == batch.last_attempt_at + timedelta(seconds=5)  # backoff
    for due in due_batches(now=timezone.now() + timedelta(minutes=3)):
        send_batch(due)
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 2)  # out of attempts: parked
    assert Receiver.received == []

    dead_letters = admin_client.get("/admin/attribution/streambatch/", {"status__exact": "failed"})
    assert "HTTP 503" in dead_letters.content.decode()
    Receiver.fail = 0
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/attribution/streambatch/",
            {"action": "retry_now", "_selected_action": [batch.pk]},
            follow=True,
        )
    assert "1 batches queued again" in response.content.decode()
    batch.refresh_from_db()
    assert batch.status == "sent"
    assert [m["messageId"] for m in messages()] == [sent[0]["messageId"]]


@pytest.mark.django_db
def test_a_replay_sends_exactly_the_range_once_more(
    stream, deliver, admin_client, django_capture_on_commit_callbacks
):
    sent = deliver(*(track("ann", "Order Completed", days) for days in (5, 4, 3, 2, 1)))
    assert len(messages()) == 5
    in_range = {m["messageId"] for m in sent[1:4]}  # 4, 3 and 2 days ago

    Receiver.received = []
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "replay_stream",
            destination="Warehouse",
            start=(NOW - timedelta(days=4)).isoformat(),
            end=(NOW - timedelta(days=2) + timedelta(seconds=1)).isoformat(),
            stdout=out,
        )
    assert out.getvalue().strip() == "Warehouse: 3 events queued again in 2 batches"
    replayed = [m["messageId"] for m in messages()]
    assert len(replayed) == 3 and set(replayed) == in_range

    Receiver.received = []
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/attribution/streamdestination/",
            {
                "action": "replay",
                "apply": "1",
                "_selected_action": [stream.pk],
                "start": (NOW - timedelta(days=5)).strftime("%Y-%m-%d %H:%M:%S"),
                "end": (NOW - timedelta(days=4)).strftime("%Y-%m-%d %H:%M:%S"),
            },
            follow=True,
        )
    assert "Warehouse: 1 events from" in response.content.decode()
    assert [m["messageId"] for m in messages()] == [sent[0]["messageId"]]
    assert StreamBatch.objects.filter(replay__startswith="replay").count() == 3


@pytest.mark.django_db
def test_bad_replay_input_is_named(stream, admin_client):
    with pytest.raises(CommandError, match="--from: 'yesterday' is not a date"):
        call_command("replay_stream", destination="Warehouse", start="yesterday", end="2026-01-01")
    with pytest.raises(CommandError, match="--to: must be after --from"):
        call_command("replay_stream", destination="Warehouse", start="2026-01-02", end="2026-01-01")
    with pytest.raises(CommandError, match="--destination: no stream destination 'Nope'"):
        call_command("replay_stream", destination="Nope", start="2026-01-01", end="2026-01-02")
    page = admin_client.post(
        "/admin/attribution/streamdestination/",
        {"action": "replay", "apply": "1", "_selected_action": [stream.pk],
         "start": "2026-01-02 00:00", "end": "2026-01-01 00:00"},
    )  # fmt: skip
    assert page.status_code == 200 and "must be after From" in page.content.decode()
