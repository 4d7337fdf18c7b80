"""The native API: bearer tokens stored hashed, Django permissions, OpenAPI schema."""

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from cdp.models import Source, hash_write_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_for(capsys):
    def make(user: User) -> str:
        call_command("create_api_token", user.username)
        return capsys.readouterr().out.strip().splitlines()[-1]

    return make


def api(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_token_is_printed_once_and_stored_only_hashed(token_for):
    user = User.objects.create_user("etl")
    token = token_for(user)
    stored = AuthToken.objects.get(user=user)
    assert token not in (stored.digest, stored.token_key)
    assert len(token) >= 64


def test_requests_without_a_valid_token_get_401(db):
    assert api(None).get("/api/v1/sources/").status_code == 401
    response = api("nonsense-token").get("/api/v1/sources/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


def test_permissions_decide_what_a_token_may_read_and_write(token_for):
    user = User.objects.create_user("reader")
    token = token_for(user)
    assert api(token).get("/api/v1/sources/").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_source"))
    assert api(token).get("/api/v1/sources/").status_code == 200
    response = api(token).post("/api/v1/sources/", {"name": "crm", "kind": "crm"}, format="json")
    assert response.status_code == 403


def test_creating_a_source_returns_its_write_key_once(token_for):
    admin = User.objects.create_superuser("admin", "a@example.com", "pw")
    client = api(token_for(admin))
    response = client.post("/api/v1/sources/", {"name": "shop", "kind": "web"}, format="json")
    assert response.status_code == 201
    key = response.json()["write_key"]
    source = Source.objects.get(name="shop")
    assert source.write_key_hash == hash_write_key(key)
    assert "write_key" not in client.get(f"/api/v1/sources/{source.pk}/").json()


def test_bad_source_body_names_the_field(token_for):
    admin = User.objects.create_superuser("admin", "a@example.com", "pw")
    response = api(token_for(admin)).post(
        "/api/v1/sources/", {"name": "x", "kind": "fax"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "kind"
    assert response.json()["code"] == "invalid_field"


def test_profile_is_found_by_any_identifier(
    token_for, web_source, segment_post, django_capture_on_commit_callbacks
):
    _, key = web_source
    with django_capture_on_commit_callbacks(execute=True):
        segment_post(
            "identify",
            {"userId": "u-9", "anonymousId": "a-9", "traits": {"email": " Ann@Example.com "}},
            write_key=key,
        )
    admin = User.objects.create_superuser("admin", "a@example.com", "pw")
    client = api(token_for(admin))
    body = client.get("/api/v1/profiles/", {"identifier": "email:ann@example.com"}).json()
    assert len(body["results"]) == 1
    profile = body["results"][0]
    assert {"kind": "user_id", "value": "u-9", "status": "active"} in profile["identifiers"]
    assert profile["traits"]["email"] == " Ann@Example.com "
    touchpoints = client.get(f"/api/v1/profiles/{profile['id']}/touchpoints/").json()
    assert [t["type"] for t in touchpoints["results"]] == ["identify"]
    missing = client.get("/api/v1/profiles/", {"identifier": "email:nobody@example.com"})
    assert missing.json()["results"] == []
    bad = client.get("/api/v1/profiles/", {"identifier": "ann"})
    assert bad.status_code == 400 and bad.json()["field"] == "identifier"


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/profiles/" in schema.content
    assert client.get("/api/docs/").status_code == 200
