"""A webhook delivery through a real Celery worker: the receiver fails once, the worker
schedules the retry with backoff and the second attempt lands, signed."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from attribution.models import Delivery, Destination, Segment
from attribution.segments.destinations import sync_webhooks, verify_signature
from cdp.models import Profile
from consent.models import Purpose
from tests.e2e.test_celery_worker import worker  # noqa: F401

pytestmark = [
    pytest.mark.real_worker,
    pytest.mark.skipif(
        not settings.REDIS_URL or "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL)",
    ),
]


class FailsOnce(BaseHTTPRequestHandler):
    received: list = []
    attempts = 0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        cls.attempts += 1
        if cls.attempts == 1:
            self.send_response(500)
        else:
            cls.received.append((dict(self.headers), body, time.monotonic()))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_worker_retries_a_failed_webhook_with_backoff(worker):  # noqa: F811
    FailsOnce.received, FailsOnce.attempts = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailsOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        profile = Profile.objects.create(traits={"first_name": "Ann"})
        segment = Segment.objects.create(name="Everyone", definition={"trait": "first_name",
                                                                      "op": "is_set"})  # fmt: skip
        segment.memberships.create(profile=profile, entered_at=segment.created_at)
        hook = Destination.objects.create(
            name="hook",
            kind="webhook",
            purpose=Purpose.objects.get(key="analytics"),
            url=f"http://127.0.0.1:{server.server_port}/",
            secret="k",
        )
        hook.segments.add(segment)
        started = time.monotonic()
        sync_webhooks(segment)  # autocommit: the task is enqueued to Redis at once
        deadline = started + 60
        while time.monotonic() < deadline and not FailsOnce.received:
            time.sleep(0.5)
    finally:
        server.shutdown()
    assert FailsOnce.received, worker.stdout.read() if worker.poll() is not None else "no retry"
    headers, body, landed = FailsOnce.received[0]
    assert verify_signature("k", headers["X-Omnitrail-Signature"], body, max_age=120)
    assert landed - started >= 5  # the backoff before the second attempt
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, "")
