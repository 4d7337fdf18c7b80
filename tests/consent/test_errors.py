"""Consent's refusals over HTTP: a 400 whose JSON names the field, said once."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("dpo", "dpo@example.com", "pw"))
    return client


def test_an_unknown_identifier_is_named_once(api):
    bad = api.get("/api/v1/consents/", {"identifier": "email:nobody@example.com"})

    assert bad.status_code == 400
    assert bad.json() == {
        "code": "unknown_identifier",
        "field": "identifier",
        "message": "identifier: no profile has email 'nobody@example.com'",
    }


def test_a_request_for_an_identifier_of_no_known_shape_says_how_to_write_it(api):
    bad = api.post(
        "/api/v1/privacy/requests", {"kind": "access", "identifier": "ann"}, format="json"
    )

    assert bad.status_code == 400
    assert bad.json() == {
        "code": "invalid_identifier",
        "field": "identifier",
        "message": "identifier: write an email address, a phone number or kind:value "
        "(e.g. user_id:42)",
    }


def test_recording_consent_for_an_unknown_identifier_names_the_field(api):
    bad = api.post(
        "/api/v1/consents",
        {"identifier": "email:nobody@example.com", "purpose": "analytics", "status": "granted"},
        format="json",
    )

    assert bad.status_code == 400
    body = bad.json()
    assert (body["field"], body["message"]) == (
        "identifier",
        "identifier: no profile has email 'nobody@example.com'",
    )
