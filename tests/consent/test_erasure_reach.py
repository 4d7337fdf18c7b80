"""Erasure reaches every profile of the person (those a guardrail split off too) and
what the audit log holds of them; admin searches are audited by keyed hash only."""

import base64

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from cdp.audit import fingerprint
from cdp.models import AuditEntry, Profile, Touchpoint
from cdp.services.sources import create_source
from consent.models import SuppressedIdentifier
from consent.selectors import profile_by_identifier
from identity.models import Identifier, Refusal

pytestmark = pytest.mark.django_db(transaction=True)
EMAILS = [f"ann{n}@example.com" for n in range(7)]  # the email limit is 5 per profile


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


def identify(n: int, email: str) -> dict:
    return {"type": "identify", "userId": "ann", "messageId": f"i{n}", "traits": {"email": email}}


def erase(identifier: str) -> dict:
    api = APIClient()
    api.force_authenticate(User.objects.create_superuser("dpo", "dpo@example.org", "pw"))
    created = api.post(
        "/api/v1/privacy/requests", {"kind": "erasure", "identifier": identifier}, format="json"
    )
    assert created.status_code == 202, created.json()
    return api.get(f"/api/v1/privacy/requests/{created.json()['id']}").json()


def test_erasure_covers_the_emails_the_limit_split_off_and_suppresses_them_all(send):
    send(*[identify(n, email) for n, email in enumerate(EMAILS)])
    ann = profile_by_identifier("user_id:ann")
    split_off = set(
        Identifier.objects.filter(kind="email", value__in=EMAILS)
        .exclude(profile=ann)
        .values_list("profile_id", flat=True)
    )
    assert len(split_off) >= 1 and Refusal.objects.filter(reason="limit").exists()
    send({"type": "identify", "userId": "bob", "messageId": "b", "traits": {"email": "b@x.org"}})

    done = erase("user_id:ann")

    assert done["status"] == "completed", done
    assert not Identifier.objects.filter(value__in=[*EMAILS, "ann"]).exists()
    assert set(Profile.objects.values_list("pk", flat=True)) == {
        profile_by_identifier("user_id:bob").pk
    }
    suppressed = {(s["kind"], s["hash"]) for s in done["result"]["suppressed"]}
    assert {kind for kind, _ in suppressed} == {"email", "user_id"} and len(suppressed) == 8
    assert SuppressedIdentifier.objects.count() == 8
    # a later event with any of the emails, the split-off ones included, is not stored
    answer = send(*[identify(100 + n, email) for n, email in enumerate(EMAILS)])
    assert answer["suppressed"] == 7 and answer["accepted"] == 0
    assert list(Touchpoint.objects.values_list("message_id", flat=True)) == ["b"]


def test_an_admin_search_is_audited_by_hash_and_erasure_cleans_the_audit(send):
    send(identify(0, EMAILS[0]))
    staff = Client()
    staff.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    assert staff.get("/admin/cdp/profile/", {"q": EMAILS[0], "o": "1"}).status_code == 200
    entry = AuditEntry.objects.get(object_type="cdp.profile")
    assert EMAILS[0] not in entry.path and "ann0" not in entry.path
    assert entry.path == f"/admin/cdp/profile/?q={fingerprint(EMAILS[0]).replace(':', '%3A')}&o=1"
    # an entry written before searches were hashed, and an /app/ search of her
    AuditEntry.objects.create(username="ops", action="view", path=f"/admin/?q={EMAILS[0]}")
    assert staff.get("/app/profiles/", {"q": f"email:{EMAILS[0]}"}).status_code == 200
    app_search = AuditEntry.objects.get(object_type="cdp.profile.search")
    assert app_search.object_id.startswith("email:") and EMAILS[0] not in app_search.object_id

    done = erase(f"email:{EMAILS[0]}")

    assert done["result"]["deleted"]["audit_entries_cleaned"] >= 2
    paths = list(AuditEntry.objects.values_list("path", "object_id"))
    assert not any(EMAILS[0] in path or fingerprint(EMAILS[0]) in path for path, _ in paths), paths
    app_search.refresh_from_db()
    assert app_search.object_id == "[erased]" and app_search.username == "ops"


def test_an_import_summary_counts_the_rows_of_erased_people(tmp_path, capsys):
    from django.core.management import call_command

    from consent.suppression import suppress

    create_source("crm", kind="crm")
    suppress([("email", "gone@example.com")])
    path = tmp_path / "crm.csv"
    path.write_text(
        "crm_id,email,first_name\nC-1,gone@example.com,Gone\nC-2,kept@example.com,Kept\n"
    )
    call_command("import_records", str(path), source="crm", kind="records", id_column="crm_id")
    out = capsys.readouterr().out
    assert "2 rows, 1 stored, 0 already stored, 0 rejected, 1 suppressed (erased people)" in out
    assert Touchpoint.objects.count() == 1
    assert SuppressedIdentifier.objects.get().events_dropped == 1
