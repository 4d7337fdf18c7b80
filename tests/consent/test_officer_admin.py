"""The privacy officer's admin: one person's consent per purpose in words, records found
by email, phone or name, requests opened with a plain email or phone, and an access
request's result as a page and a ZIP of JSON and CSV."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from cdp.models import Profile
from consent.models import ConsentRecord, DataSubjectRequest
from consent.services import record_consent

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "arjun.ramirez@example.com"


@pytest.fixture
def arjun(deliver):
    deliver(
        {
            "type": "identify",
            "userId": "arjun-1",
            "traits": {
                "email": EMAIL,
                "phone": "+1 415 555 0199",
                "first_name": "Arjun",
                "last_name": "Ramirez",
            },
        },
        {"type": "track", "userId": "arjun-1", "event": "Order Completed", "properties": {}},
    )
    profile = Profile.objects.get(merged_into__isnull=True, traits__first_name="Arjun")
    record_consent(
        profile,
        "email_marketing",
        "granted",
        channel=ConsentRecord.Channel.API,
        given_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        evidence={"form": "newsletter footer", "ip": "203.0.113.7", "text": {"version": 3}},
    )
    record_consent(
        profile,
        "ad_user_data",
        "withdrawn",
        channel=ConsentRecord.Channel.CONSENT_MODE,
        given_at=datetime(2026, 4, 2, 10, 0, tzinfo=UTC),
    )
    return profile


def test_the_person_view_names_each_purpose_with_its_state_and_evidence(admin_client, arjun):
    page = admin_client.get(f"/admin/consent/consentrecord/person/{arjun.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Consent of Arjun Ramirez" in html
    rows = {row["key"]: row for row in page.context["purposes"]}
    email = rows["email_marketing"]
    assert (email["purpose"], email["state"], email["allowed"]) == (
        "Email marketing",
        "Granted",
        True,
    )
    assert email["since"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert email["channel"] == "REST API"
    assert email["evidence"] == ["form: newsletter footer", "ip: 203.0.113.7", "text.version: 3"]
    ads = rows["ad_user_data"]
    assert (ads["state"], ads["allowed"], ads["channel"]) == (
        "Withdrawn",
        False,
        "Google Consent Mode v2",
    )
    assert "2026-03-01 09:30" in html and "form: newsletter footer" in html
    assert '"form"' not in html  # evidence as lines, not raw JSON


@pytest.mark.parametrize("typed", [EMAIL, "+1 (415) 555-0199", "Arjun Ramirez", "ramirez"])
def test_consent_records_are_found_by_email_phone_or_name(admin_client, arjun, typed):
    listing = admin_client.get("/admin/consent/consentrecord/", {"q": typed})
    assert listing.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert {r.profile_id for r in shown} == {arjun.pk}
    assert len(shown) == 2
    assert "Arjun Ramirez" in listing.content.decode()  # the person, not "profile 12"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [(EMAIL, f"email:{EMAIL}"), ("+1 415 555 0199", "phone:+1 415 555 0199")],
)
def test_a_request_opened_with_a_plain_email_or_phone(admin_client, arjun, typed, stored):
    answer = admin_client.post(
        "/admin/consent/datasubjectrequest/add/", {"kind": "access", "identifier": typed}
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    request = DataSubjectRequest.objects.get()
    assert request.identifier == stored
    assert request.status == DataSubjectRequest.Status.COMPLETED
    assert request.result["profile"] == arjun.pk


def test_a_request_for_nothing_recognisable_is_a_message_beside_the_field(admin_client):
    answer = admin_client.post(
        "/admin/consent/datasubjectrequest/add/", {"kind": "access", "identifier": "arjun"}
    )
    assert answer.status_code == 200
    assert b"write an email address, a phone number or kind:value" in answer.content
    assert not DataSubjectRequest.objects.exists()


def test_an_access_result_reads_as_tables_and_downloads_as_json_and_csv(admin_client, arjun):
    admin_client.post(
        "/admin/consent/datasubjectrequest/add/", {"kind": "access", "identifier": EMAIL}
    )
    request = DataSubjectRequest.objects.get()
    change = admin_client.get(f"/admin/consent/datasubjectrequest/{request.pk}/change/")
    assert b"download (ZIP: JSON and CSV)" in change.content

    page = admin_client.get(f"/admin/consent/datasubjectrequest/{request.pk}/result/")
    assert page.status_code == 200
    tables = {t["name"]: t for t in page.context["tables"]}
    assert len(tables["touchpoints"]["rows"]) == len(request.result["touchpoints"]) == 2
    assert len(tables["consents"]["rows"]) == 2
    assert "The person: Arjun Ramirez." in page.content.decode()

    download = admin_client.get(f"/admin/consent/datasubjectrequest/{request.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"].startswith(
        f'attachment; filename="omnitrail-access-{request.pk}-'
    )
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert json.loads(archive.read("result.json")) == request.result
    assert {"profiles.csv", "identifiers.csv", "touchpoints.csv", "consents.csv"} <= set(
        archive.namelist()
    )
    identifiers = list(csv.DictReader(io.StringIO(archive.read("identifiers.csv").decode())))
    assert {"kind": "email", "value": EMAIL} in identifiers
    events = list(csv.DictReader(io.StringIO(archive.read("touchpoints.csv").decode())))
    assert sorted(e["type"] for e in events) == ["identify", "track"]


def test_the_admin_is_omnitrails_with_plural_names_in_words(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "Omnitrail administration" in index
    assert "Django administration" not in index
    assert "Audit entries" in index and "Audit entrys" not in index


def test_audit_entries_name_their_object_types_in_words(admin_client, arjun):
    from cdp.models import AuditEntry

    AuditEntry.objects.create(
        username="officer", action="view", object_type="cdp.profile", object_id=str(arjun.pk)
    )
    AuditEntry.objects.create(
        username="officer", action="erase", object_type="consent.datasubjectrequest", object_id="1"
    )
    listing = admin_client.get("/admin/cdp/auditentry/").content.decode()
    assert '<td class="field-object_in_words">Profile</td>' in listing
    assert "Data subject request" in listing
    assert ">cdp.profile<" not in listing
