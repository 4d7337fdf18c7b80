"""The official Node clients, @segment/analytics-node and @rudderstack/rudder-sdk-node
(npm, pinned in tests/e2e/js), run by Node against a live Omnitrail: every call stored
field by field, and a historical `timestamp` kept as the event's time (rudder-sdk-node
also sends `originalTimestamp` = now beside it; RudderStack's server, like ours, takes
the explicit timestamp)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connections

from cdp.models import Touchpoint
from cdp.services.sources import create_source
from tests.e2e.js_clients import run_node

pytestmark = pytest.mark.django_db(transaction=True)

HISTORICAL = "2024-01-02T03:04:05.678Z"
AT = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)

CALLS = """
  client.identify({userId: "user-9", traits: {email: "grace@example.com", plan: "team"}});
  client.track({userId: "user-9", event: "Order Completed",
    properties: {order_id: "O-1", revenue: "$42.50", currency: "usd"},
    context: {campaign: {source: "newsletter", medium: "email", name: "winter"}},
    integrations: {Mixpanel: false},
    timestamp: new Date(HISTORICAL)});
  client.page({userId: "user-9", name: "Pricing", properties: {url: "https://shop.example/pricing"}});
"""

SEGMENT = f"""
const {{ Analytics }} = require("@segment/analytics-node");
const HISTORICAL = {json.dumps(HISTORICAL)};
const client = new Analytics({{writeKey: process.env.WRITE_KEY, host: process.env.HOST,
  maxEventsInBatch: 10, flushInterval: 200}});
client.on("http_request", (r) => console.log("sent", r.url));
{CALLS}
client.closeAndFlush({{timeout: 20000}}).then(() => console.log("done"));
"""

RUDDER = f"""
const Analytics = require("@rudderstack/rudder-sdk-node");
const HISTORICAL = {json.dumps(HISTORICAL)};
const client = new Analytics(process.env.WRITE_KEY, {{dataPlaneUrl: process.env.HOST,
  flushAt: 10, flushInterval: 200, retryCount: 0, logLevel: "error"}});
{CALLS}
client.flush().then(() => console.log("done"), (e) => {{ console.error(e); process.exit(1); }});
"""


@pytest.fixture(autouse=True)
def server_closes_database_connections(live_server, monkeypatch):
    monkeypatch.setitem(connections["default"].settings_dict, "CONN_MAX_AGE", 0)


@pytest.mark.parametrize("sdk", ["segment", "rudder"])
def test_node_sdk_calls_are_stored_with_their_historical_timestamp(live_server, sdk):
    source, key = create_source(f"{sdk} node", kind="server")
    script = SEGMENT if sdk == "segment" else RUDDER
    env = {**os.environ, "WRITE_KEY": key, "HOST": live_server.url}
    output = run_node(script, env=env)
    assert "done" in output
    rows = {row.type: row for row in Touchpoint.objects.filter(source=source)}
    assert sorted(rows) == ["identify", "page", "track"]

    track = rows["track"]
    assert (track.event, track.user_id) == ("Order Completed", "user-9")
    assert track.timestamp == AT  # the explicit historical time, not "now"
    assert track.revenue == Decimal("42.50") and track.currency == "USD"
    assert track.properties["order_id"] == "O-1"
    assert (track.utm_source, track.utm_medium, track.utm_campaign) == (
        "newsletter",
        "email",
        "winter",
    )
    assert track.extras["integrations"] == {"Mixpanel": False}
    assert track.context["library"]["name"] == (
        "@segment/analytics-node" if sdk == "segment" else "analytics-node"
    )

    identify = rows["identify"]
    traits = identify.traits or identify.context.get("traits")
    assert traits == {"email": "grace@example.com", "plan": "team"}
    assert identify.user_id == "user-9"
    # Calls without a timestamp are "now" (within the test).
    assert abs((identify.received_at - identify.timestamp).total_seconds()) < 60

    page = rows["page"]
    assert (page.event, page.page_url) == ("Pricing", "https://shop.example/pricing")
