"""The official Segment and RudderStack Python clients, unchanged, pointed at a live Omnitrail.

Existing instrumentation must work by changing only the host: the clients send Basic-auth
write keys, optionally gzip their bodies and batch to /v1/batch. Every stored field is
checked, a client's retry of the same messages stores nothing twice, and identity
resolution (run on commit, for real: live_server needs transactional_db) puts one visitor's
anonymous browsing and signed-in purchase on one profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import pytest
import requests
import rudderstack.analytics
import rudderstack.analytics.request
import segment.analytics
import segment.analytics.request
from django.db import connections

from cdp.models import Profile, RejectedEvent, Source, Touchpoint
from cdp.services.sources import create_source
from identity.models import Identifier, MergeDecision

pytestmark = pytest.mark.django_db(transaction=True)

LANDING_URL = (
    "https://shop.example.com/sale?utm_source=google&utm_medium=cpc"
    "&utm_campaign=autumn-sale&utm_term=hiking+boots&utm_content=ad-1"
)
CHECKOUT_URL = "https://shop.example.com/checkout?utm_source=from-the-url&utm_medium=ignored"
CAMPAIGN = {
    "source": "newsletter",
    "medium": "email",
    "name": "autumn-sale",
    "term": "boots",
    "content": "hero",
}
EMAIL = "Ada.Lovelace@Example.com"


def segment_client(write_key: str, host: str, *, gzip: bool, on_error: Callable):
    return segment.analytics.Client(
        write_key,
        host=host,
        gzip=gzip,
        on_error=on_error,
        max_retries=1,
        upload_interval=0.1,
        timeout=10,
    )


def rudder_client(write_key: str, host: str, *, gzip: bool, on_error: Callable):
    # rudder-sdk-python calls the host `dataPlaneUrl` at module level; the Client takes `host`.
    return rudderstack.analytics.Client(
        write_key,
        host=host,
        gzip=gzip,
        on_error=on_error,
        max_retries=1,
        upload_interval=0.1,
        timeout=10,
    )


CLIENTS = {"segment": segment_client, "rudder": rudder_client}


class ClientError(NamedTuple):
    """What a client reported through on_error for one batch it could not deliver."""

    status: int | None
    code: str
    message: str
    types: list[str]


def whole_milliseconds(moment: datetime) -> datetime:
    # analytics-python sends timestamps to the millisecond.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.fixture
def source_and_key(transactional_db) -> tuple[Source, str]:
    return create_source("website", kind="web")


@pytest.fixture(autouse=True)
def server_closes_database_connections(live_server, monkeypatch):
    """The live server's threads close their database connection after each request.

    A client's kept-alive socket keeps its server thread, and with CONN_MAX_AGE its
    PostgreSQL session, alive after the test; the test database could not be dropped.
    """
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


class RecordingSession(requests.Session):
    """The HTTP session both libraries post with, keeping what the server answered."""

    def __init__(self):
        super().__init__()
        self.answers: list[tuple[int, dict]] = []

    def post(self, url, **kwargs):
        response = super().post(url, **kwargs)
        self.answers.append((response.status_code, response.json()))
        return response


@pytest.fixture
def answers(monkeypatch) -> Iterator[list[tuple[int, dict]]]:
    """Every (status, body) the server sent back to either client during the test."""
    session = RecordingSession()
    # Both libraries post through one module-level requests.Session.
    monkeypatch.setattr(segment.analytics.request, "_session", session)
    monkeypatch.setattr(rudderstack.analytics.request, "_session", session)
    yield session.answers
    session.close()


@pytest.fixture
def make_client(live_server, answers) -> Iterator[Callable]:
    """Build a real client against the live server; collect its errors; shut it down after."""
    made = []

    def make(kind: str, write_key: str, *, gzip: bool):
        errors: list[ClientError] = []

        def on_error(error: Exception, batch: list[dict]) -> None:
            # A summary, not the exception: its traceback holds the response and its socket.
            errors.append(
                ClientError(
                    getattr(error, "status", None),
                    getattr(error, "code", type(error).__name__),
                    getattr(error, "message", str(error)),
                    [message["type"] for message in batch],
                )
            )

        client = CLIENTS[kind](write_key, live_server.url, gzip=gzip, on_error=on_error)
        made.append(client)
        return client, errors

    yield make
    for client in made:
        client.shutdown()


class Visitor:
    """One visitor's calls, built afresh each time so that a resend repeats them exactly."""

    def __init__(self, run: str, at: datetime):
        self.run = run
        self.anonymous_id = f"{run}-anon-7f3c"
        self.user_id = f"{run}-user-42"
        self.page_at = at
        self.track_at = at + timedelta(minutes=2)
        self.identify_at = at + timedelta(minutes=3)
        self.message_ids = {kind: f"{run}-{kind}-0001" for kind in ("page", "track", "identify")}

    def browse_and_buy(self, client) -> dict[str, dict]:
        """An anonymous landing page view, and a purchase sent with the userId only."""
        _, page = client.page(
            anonymous_id=self.anonymous_id,
            name="Autumn sale",
            properties={"title": "Autumn sale | Example Outfitters"},
            context={"page": {"url": LANDING_URL, "referrer": "https://www.google.com/"}},
            timestamp=self.page_at,
            message_id=self.message_ids["page"],
        )
        _, track = client.track(
            user_id=self.user_id,
            event="Order Completed",
            properties={"order_id": f"{self.run}-o-1", "revenue": 129.9, "currency": "eur"},
            context={
                "campaign": dict(CAMPAIGN),
                "page": {"url": CHECKOUT_URL, "referrer": LANDING_URL},
            },
            timestamp=self.track_at,
            message_id=self.message_ids["track"],
        )
        return {"page": page, "track": track}

    def sign_in(self, client) -> dict[str, dict]:
        """The identify that ties the anonymous id to the user id (and an email)."""
        _, identify = client.identify(
            user_id=self.user_id,
            anonymous_id=self.anonymous_id,
            traits={"email": EMAIL, "first_name": "Ada"},
            timestamp=self.identify_at,
            message_id=self.message_ids["identify"],
        )
        return {"identify": identify}


def assert_stored(row: Touchpoint, sent: dict, at: datetime) -> None:
    """What every touchpoint keeps of a message, whatever its type."""
    assert row.message_id == sent["messageId"]
    assert row.type == sent["type"]
    assert row.original_timestamp == at
    # Skew correction moves the time by the transit time of the request only.
    assert abs(row.timestamp - at) < timedelta(seconds=5)
    assert timedelta(0) <= row.received_at - row.sent_at < timedelta(seconds=5)
    assert row.context["library"]["name"] == "analytics-python"


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_official_client_batches_are_stored_once_on_one_profile(
    kind, gzip, source_and_key, make_client, answers
):
    source, write_key = source_and_key
    client, errors = make_client(kind, write_key, gzip=gzip)
    visitor = Visitor(
        f"{kind}-{'gzip' if gzip else 'plain'}",
        whole_milliseconds(datetime.now(UTC) - timedelta(minutes=30)),
    )

    # Two flushes: the anonymous page and the purchase land first, on two profiles; the
    # identify in the second batch joins them.
    sent = visitor.browse_and_buy(client)
    client.flush()
    before_identify = dict(Touchpoint.objects.values_list("type", "profile_id"))
    assert None not in before_identify.values()
    assert before_identify["page"] != before_identify["track"]
    sent |= visitor.sign_in(client)
    client.flush()

    assert errors == []
    assert {status for status, _ in answers} == {200}
    assert sum(body["accepted"] for _, body in answers) == 3
    assert RejectedEvent.objects.count() == 0
    rows = {row.type: row for row in Touchpoint.objects.filter(source=source)}
    assert sorted(rows) == ["identify", "page", "track"]
    for name, message_id in visitor.message_ids.items():
        assert sent[name]["messageId"] == message_id

    page = rows["page"]
    assert_stored(page, sent["page"], visitor.page_at)
    assert (page.event, page.user_id, page.anonymous_id) == (
        "Autumn sale",
        "",
        visitor.anonymous_id,
    )
    assert (page.page_url, page.referrer) == (LANDING_URL, "https://www.google.com/")
    # No context.campaign: the UTM parameters come from the page URL.
    assert (
        page.utm_source,
        page.utm_medium,
        page.utm_campaign,
        page.utm_term,
        page.utm_content,
    ) == ("google", "cpc", "autumn-sale", "hiking boots", "ad-1")
    assert (page.revenue, page.currency) == (None, "")

    track = rows["track"]
    assert_stored(track, sent["track"], visitor.track_at)
    assert (track.event, track.user_id, track.anonymous_id) == (
        "Order Completed",
        visitor.user_id,
        "",
    )
    # context.campaign wins over the URL's parameters.
    assert (
        track.utm_source,
        track.utm_medium,
        track.utm_campaign,
        track.utm_term,
        track.utm_content,
    ) == ("newsletter", "email", "autumn-sale", "boots", "hero")
    assert (track.page_url, track.referrer) == (CHECKOUT_URL, LANDING_URL)
    assert isinstance(track.revenue, Decimal)
    assert (track.revenue, track.currency) == (Decimal("129.90"), "EUR")
    assert track.properties["order_id"] == f"{visitor.run}-o-1"

    identify = rows["identify"]
    assert_stored(identify, sent["identify"], visitor.identify_at)
    assert (identify.user_id, identify.anonymous_id) == (visitor.user_id, visitor.anonymous_id)
    assert (identify.event, identify.revenue, identify.currency) == ("", None, "")
    # analytics-python sends identify traits at the top level; rudder-sdk-python in
    # context.traits. Identity reads both.
    said = identify.traits or identify.context.get("traits")
    assert said == {"email": EMAIL, "first_name": "Ada"}

    profile_ids = {row.profile_id for row in rows.values()}
    assert len(profile_ids) == 1 and None not in profile_ids
    profile = Profile.objects.get(pk=profile_ids.pop())
    assert profile.merged_into is None
    assert MergeDecision.objects.filter(survivor=profile).count() == 1
    assert (profile.traits["email"], profile.traits["first_name"]) == (EMAIL, "Ada")
    assert set(Identifier.objects.filter(profile=profile).values_list("kind", "value")) == {
        ("anonymous_id", visitor.anonymous_id),
        ("user_id", visitor.user_id),
        ("email", EMAIL.lower()),
    }
    assert all(row.resolved_at is not None for row in rows.values())

    # The same messages again (a client retry after a lost response): nothing new.
    before = list(Touchpoint.objects.order_by("id").values())
    answers.clear()
    visitor.browse_and_buy(client)
    visitor.sign_in(client)
    client.flush()
    assert errors == []
    assert sum(body["duplicates"] for _, body in answers) == 3
    assert sum(body["accepted"] for _, body in answers) == 0
    assert list(Touchpoint.objects.order_by("id").values()) == before
    assert Profile.objects.filter(merged_into__isnull=True).count() == 1


@pytest.mark.parametrize("kind", sorted(CLIENTS))
def test_disabled_source_gets_401_and_nothing_is_stored(kind, source_and_key, make_client, answers):
    source, write_key = source_and_key
    Source.objects.filter(pk=source.pk).update(enabled=False)
    client, errors = make_client(kind, write_key, gzip=True)
    visitor = Visitor(kind, whole_milliseconds(datetime.now(UTC)))

    visitor.browse_and_buy(client)
    client.flush()

    # One error per batch the client sent (usually one batch, two if its timer split them).
    assert errors
    assert {(error.status, error.code) for error in errors} == {(401, "source_disabled")}
    assert all("disabled" in error.message for error in errors)
    assert sorted(kind for error in errors for kind in error.types) == ["page", "track"]
    assert {status for status, _ in answers} == {401}
    assert Touchpoint.objects.count() == 0
    assert Profile.objects.count() == 0
