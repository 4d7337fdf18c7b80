"""A website sends from its own origin: CORS on every tracking answer, every path and
write-key place the official SDKs use, and a source's allow-list of origins."""

import base64
import gzip
import zlib

import orjson
import pytest
from django.test import Client

from cdp.models import RejectedEvent, Touchpoint

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def basic(key):
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def event(**overrides):
    body = {"event": "Viewed", "anonymousId": "anon-1", "messageId": "m-1"}
    return body | overrides


@pytest.fixture
def browser():
    return Client(headers={"Origin": SHOP})


@pytest.mark.parametrize("path", ["/v1/t", "/v1/track", "/v1/batch", "/beacon/v1/batch"])
def test_preflight_is_answered_204_with_the_origin_methods_and_sdk_headers(browser, path):
    response = browser.options(
        path,
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,anonymousid",
        },
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "anonymousid"} <= allowed
    assert response["Access-Control-Max-Age"] == "86400"


def test_every_answer_carries_the_cors_header_errors_included(browser, web_source):
    _, key = web_source
    ok = browser.post(
        "/v1/t", orjson.dumps(event()), "text/plain", headers={"Authorization": basic(key)}
    )
    unknown_key = browser.post(
        "/v1/t", b"{}", "text/plain", headers={"Authorization": basic("nope")}
    )
    bad_json = browser.post("/v1/t", b"{", "text/plain", headers={"Authorization": basic(key)})
    assert [r.status_code for r in (ok, unknown_key, bad_json)] == [200, 401, 400]
    for response in (ok, unknown_key, bad_json):
        assert response["Access-Control-Allow-Origin"] == SHOP
        assert response["Content-Type"] == "application/json"


def test_the_native_api_gets_no_cors(browser):
    response = browser.options("/api/v1/sources", headers={"Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize(
    ("path", "body", "stored_type"),
    [
        ("/v1/t", event(messageId="m"), "track"),
        ("/v1/p", {"anonymousId": "a", "name": "Home", "messageId": "m"}, "page"),
        ("/v1/i", {"userId": "u-1", "traits": {"plan": "pro"}, "messageId": "m"}, "identify"),
        ("/v1/s", {"anonymousId": "a", "name": "Cart", "messageId": "m"}, "screen"),
        ("/v1/g", {"userId": "u-1", "groupId": "acme", "messageId": "m"}, "group"),
        ("/v1/a", {"userId": "u-1", "previousId": "anon-1", "messageId": "m"}, "alias"),
        ("/v1/b", {"batch": [event(type="track", messageId="m")]}, "track"),
        ("/v1/import", {"batch": [event(type="track", messageId="m")]}, "track"),
        ("/v1/screen", {"anonymousId": "a", "name": "Cart", "messageId": "m"}, "screen"),
    ],
)
def test_each_sdk_path_stores_its_event(browser, web_source, path, body, stored_type):
    source, key = web_source
    response = browser.post(
        path, orjson.dumps(body), "text/plain", headers={"Authorization": basic(key)}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 1
    row = Touchpoint.objects.get()
    assert (row.source, row.type, row.message_id) == (
        source,
        stored_type,
        "m",
    )


def test_the_beacon_path_takes_the_write_key_from_the_query_string(browser, web_source):
    _, key = web_source
    body = {"batch": [event(type="track")], "sentAt": "2026-09-01T10:00:00Z"}
    response = browser.post(f"/beacon/v1/batch?writeKey={key}", orjson.dumps(body), "text/plain")
    assert response.status_code == 200
    assert Touchpoint.objects.get().event == "Viewed"


def test_a_write_key_in_the_body_of_a_text_plain_request_is_read(browser, web_source):
    _, key = web_source
    response = browser.post("/v1/t", orjson.dumps(event(writeKey=key)), "text/plain")
    assert response.status_code == 200
    assert Touchpoint.objects.get().anonymous_id == "anon-1"


def test_a_gzip_body_under_the_form_content_type_is_read(client, web_source):
    # rudder-sdk-node posts its gzip JSON with axios' default application/x-www-form-urlencoded.
    _, key = web_source
    body = gzip.compress(orjson.dumps({"batch": [event(type="track")]}))
    response = client.post(
        "/v1/batch",
        body,
        "application/x-www-form-urlencoded",
        headers={"Authorization": basic(key), "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert Touchpoint.objects.count() == 1


def test_a_deflate_body_is_read(client, web_source):
    _, key = web_source
    response = client.post(
        "/v1/t",
        zlib.compress(orjson.dumps(event())),
        "application/json",
        headers={"Authorization": basic(key), "Content-Encoding": "deflate"},
    )
    assert response.status_code == 200 and Touchpoint.objects.count() == 1


@pytest.mark.parametrize("write_key", [12345, ["k"], {"k": 1}, True])
def test_a_write_key_that_is_not_a_string_gets_401_naming_it(client, db, write_key):
    response = client.post("/v1/t", orjson.dumps(event(writeKey=write_key)), "text/plain")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert response.json()["field"] == "writeKey"


def test_an_origin_outside_the_sources_allow_list_gets_403_with_a_reason(web_source):
    source, key = web_source
    source.allowed_origins = [SHOP]
    source.save()
    other = Client(headers={"Origin": "https://evil.example"})
    refused = other.post("/v1/t", orjson.dumps(event(writeKey=key)), "text/plain")
    assert refused.status_code == 403
    assert refused.json()["code"] == "origin_not_allowed"
    assert refused.json()["field"] == "Origin"
    assert "https://evil.example" in refused.json()["message"]
    assert refused["Access-Control-Allow-Origin"] == "https://evil.example"
    allowed = Client(headers={"Origin": SHOP}).post(
        "/v1/t", orjson.dumps(event(writeKey=key)), "text/plain"
    )
    assert allowed.status_code == 200
    assert Touchpoint.objects.count() == 1
    # A server-side SDK sends no Origin: the allow-list is about browsers.
    server = Client().post(
        "/v1/t", orjson.dumps(event(messageId="m-2")), "application/json",
        headers={"Authorization": basic(key)},
    )  # fmt: skip
    assert server.status_code == 200
    assert RejectedEvent.objects.count() == 0


def test_the_allow_list_is_set_through_the_native_api(admin_client, web_source):
    source, _ = web_source
    response = admin_client.patch(
        f"/api/v1/sources/{source.pk}",
        {"allowed_origins": [SHOP]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.json()
    source.refresh_from_db()
    assert source.allowed_origins == [SHOP]
    bad = admin_client.patch(
        f"/api/v1/sources/{source.pk}",
        {"allowed_origins": ["shop.example.com/path"]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json()["field"].startswith("allowed_origins")
