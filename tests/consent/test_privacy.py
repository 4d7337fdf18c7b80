"""Data-subject requests: access bundles, erasure that leaves no trace, suppression, audit."""

import base64
import json

import orjson
import pytest
from django.apps import apps
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from cdp.models import AuditEntry, Profile, Touchpoint
from cdp.services.sources import create_source
from consent.models import ConsentRecord, DataSubjectRequest, SuppressedIdentifier
from consent.selectors import profile_by_identifier
from consent.services import record_consent
from identity.models import Identifier, MergeDecision

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "ann.lovelace@example.com"
LAPTOP_VISIT = {"type": "page", "anonymousId": "ann-laptop", "messageId": "p0", "name": "Sale"}
PERSON_EVENTS = [
    {"type": "page", "anonymousId": "ann-phone", "messageId": "p1", "name": "Home"},
    {
        "type": "identify",
        "anonymousId": "ann-phone",
        "userId": "ann-77",
        "messageId": "p2",
        "traits": {"email": EMAIL, "first_name": "Augusta", "last_name": "Lovelace"},
        "context": {"consent": {"categoryPreferences": {"Analytics": True}}},
    },
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "ann-77",
        "anonymousId": "ann-laptop",
        "messageId": "p3",
        "properties": {"revenue": 42.5, "currency": "GBP"},
    },
]
STRANGER = {
    "type": "identify",
    "userId": "bob-1",
    "messageId": "s1",
    "traits": {"email": "bob@example.com", "first_name": "Robert"},
}


@pytest.fixture
def send(client):
    _, key = create_source("web", kind="web")
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    def post(*events):
        response = client.post(
            "/v1/batch",
            orjson.dumps({"batch": list(events)}),
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
        assert response.status_code == 200, response.json()
        return response.json()

    return post


@pytest.fixture
def dpo():
    user = User.objects.create_superuser("dpo", "dpo@example.org", "pw")
    api = APIClient()
    api.force_authenticate(user)
    return api


def request(api, kind, identifier):
    created = api.post(
        "/api/v1/privacy/requests", {"kind": kind, "identifier": identifier}, format="json"
    )
    assert created.status_code == 202, created.json()
    return api.get(f"/api/v1/privacy/requests/{created.json()['id']}").json()


def test_access_bundle_holds_everything_about_the_person(send, dpo):
    send(LAPTOP_VISIT)  # a profile of its own until the order joins it to hers
    send(*PERSON_EVENTS, STRANGER)
    profile = profile_by_identifier("user_id:ann-77")
    record_consent(profile, "email_marketing", "denied", channel="api")

    done = request(dpo, "access", f"email:{EMAIL.upper()}")

    assert done["status"] == "completed" and done["handled_by"] == "celery"
    bundle = done["result"]
    assert bundle["profile"] == profile.pk
    assert {(i["kind"], i["value"]) for i in bundle["identifiers"]} == {
        ("anonymous_id", "ann-phone"),
        ("anonymous_id", "ann-laptop"),
        ("user_id", "ann-77"),
        ("email", EMAIL),
    }
    assert sorted(t["message_id"] for t in bundle["touchpoints"]) == ["p0", "p1", "p2", "p3"]
    order = next(t for t in bundle["touchpoints"] if t["message_id"] == "p3")
    assert order["properties"] == {"revenue": 42.5, "currency": "GBP"}
    assert {(c["purpose__key"], c["status"]) for c in bundle["consents"]} == {
        ("analytics", "granted"),
        ("email_marketing", "denied"),
    }
    traits = next(p["traits"] for p in bundle["profiles"] if p["id"] == profile.pk)
    assert traits["first_name"] == "Augusta" and traits["email"] == EMAIL
    assert len(bundle["merge_decisions"]) == MergeDecision.objects.count() == 1
    assert "bob@example.com" not in json.dumps(bundle)
    assert AuditEntry.objects.filter(action="export", username="dpo").exists()


def _rows_mentioning(*needles: str) -> list[str]:
    """Every row of every table whose values mention one of `needles`."""
    found = []
    for model in apps.get_models():
        for row in model.objects.values():
            text = json.dumps(row, default=str).lower()
            for needle in needles:
                if needle.lower() in text:
                    found.append(f"{model._meta.label} {row.get('id')}: {needle}")
    return found


def test_erasure_leaves_no_trace_and_later_events_are_dropped(send, dpo, client):
    send(LAPTOP_VISIT)  # a profile of its own until the order joins it to hers
    send(*PERSON_EVENTS, STRANGER)
    # An earlier access request holds a bundle about her.
    request(dpo, "access", "user_id:ann-77")
    ids = list(Profile.objects.values_list("pk", flat=True))
    stranger = profile_by_identifier("user_id:bob-1").pk
    needles = (EMAIL, "Augusta", "Lovelace", "ann-77", "ann-phone", "ann-laptop")
    assert _rows_mentioning(*needles)  # there is something to find before

    done = request(dpo, "erasure", "user_id:ann-77")

    assert done["status"] == "completed"
    # Attribution was recomputed without her.
    from attribution.models import AttributionRun

    assert AttributionRun.objects.filter(status="completed").exists()
    assert _rows_mentioning(*needles) == []
    proof = done["result"]
    assert proof["deleted"]["touchpoints"] == 4 and proof["deleted"]["identifiers"] == 4
    assert {s["kind"] for s in proof["suppressed"]} == {"user_id", "anonymous_id", "email"}
    assert done["identifier"].startswith("user_id:") and "ann-77" not in done["identifier"]
    # The stranger is untouched.
    assert Profile.objects.filter(pk=stranger).exists()
    assert Touchpoint.objects.filter(message_id="s1").exists()
    assert set(Profile.objects.values_list("pk", flat=True)) < set(ids)

    # Later events that carry any of the person's identifiers are dropped and counted.
    body = send(
        {"type": "track", "event": "Viewed", "userId": "ann-77", "messageId": "later-1"},
        {
            "type": "identify",
            "anonymousId": "x-9",
            "messageId": "later-2",
            "traits": {"email": EMAIL},
        },
        {"type": "page", "anonymousId": "new-visitor", "messageId": "later-3"},
    )
    assert body["accepted"] == 1 and body["suppressed"] == 2
    assert not Touchpoint.objects.filter(message_id__in=["later-1", "later-2"]).exists()
    assert sum(SuppressedIdentifier.objects.values_list("events_dropped", flat=True)) == 2
    assert _rows_mentioning(*needles) == []


def test_a_request_for_nobody_and_bad_requests(dpo):
    done = request(dpo, "erasure", "email:nobody@example.com")
    assert done["status"] == "not_found" and "no profile" in done["error"]

    bad_kind = dpo.post(
        "/api/v1/privacy/requests", {"kind": "forget", "identifier": "email:a@b.co"}, format="json"
    )
    assert bad_kind.status_code == 400 and bad_kind.json()["field"] == "kind"
    bad_identifier = dpo.post(
        "/api/v1/privacy/requests", {"kind": "access", "identifier": "ann"}, format="json"
    )
    assert bad_identifier.status_code == 400 and bad_identifier.json()["field"] == "identifier"
    assert DataSubjectRequest.objects.count() == 1


def test_the_admin_audit_log_says_who_viewed_and_changed_personal_data(send, client):
    send(LAPTOP_VISIT)
    send(*PERSON_EVENTS)
    staff = User.objects.create_superuser("ops", "ops@example.org", "pw")
    client.force_login(staff)
    profile = profile_by_identifier("user_id:ann-77")
    decision = MergeDecision.objects.first()

    assert client.get(f"/admin/cdp/profile/{profile.pk}/change/").status_code == 200
    assert client.get("/admin/consent/consentrecord/").status_code == 200
    client.post(
        "/admin/identity/mergedecision/", {"action": "undo", "_selected_action": [decision.pk]}
    )
    assert client.get("/admin/cdp/source/").status_code == 200  # not personal data

    entries = list(
        AuditEntry.objects.order_by("id").values_list(
            "username", "action", "object_type", "object_id"
        )
    )
    assert entries == [
        ("ops", "view", "cdp.profile", str(profile.pk)),
        ("ops", "view", "consent.consentrecord", ""),
        ("ops", "change", "identity.mergedecision", str(decision.pk)),
    ]
    assert ConsentRecord.objects.exists() and Identifier.objects.exists()
