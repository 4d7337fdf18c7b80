"""Consent: from every channel, with its evidence; the policy question; merges."""

import base64
import csv
import io
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from cdp.models import Touchpoint
from cdp.services.sources import create_source
from consent.models import ConsentRecord, Purpose
from consent.policy import allowed_profiles, may_use
from consent.selectors import current_consent, profile_by_identifier
from consent.services import import_consents, record_consent
from identity.models import MergeDecision
from identity.services.merging import unmerge
from tests.consent.tcf import tc_string

pytestmark = pytest.mark.django_db
AT = "2026-09-01T10:00:00Z"


@pytest.fixture
def web(db):
    return create_source("web", kind="web")


@pytest.fixture
def post(client, web, django_capture_on_commit_callbacks):
    """POST events to /v1/batch as the web source; identity and consent run on commit."""
    _, key = web
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()

    def send(*events):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/v1/batch",
                orjson.dumps({"batch": list(events)}),
                content_type="application/json",
                HTTP_AUTHORIZATION=auth,
            )
        return response

    return send


def identify(user_id, consent, message_id, timestamp=AT, **traits):
    return {
        "type": "identify",
        "userId": user_id,
        "messageId": message_id,
        "timestamp": timestamp,
        "traits": traits,
        "context": {"consent": consent},
    }


def records(user_id):
    profile = profile_by_identifier(f"user_id:{user_id}")
    return {
        r.purpose.key: (r.status, r.channel)
        for r in ConsentRecord.objects.filter(profile=profile).order_by("given_at", "id")
    }


def test_segment_category_preferences_are_recorded_with_their_evidence(post):
    response = post(
        identify("u-1", {"categoryPreferences": {"Analytics": True, "Advertising": False}}, "m1")
    )

    assert response.status_code == 200 and "warnings" not in response.json()
    assert records("u-1") == {
        "analytics": ("granted", "segment"),
        "ad_user_data": ("denied", "segment"),
        "ad_personalization": ("denied", "segment"),
    }
    record = ConsentRecord.objects.get(purpose__key="analytics")
    assert record.evidence == {"categoryPreferences": {"analytics": True}}
    assert record.source.name == "web" and record.given_at == datetime(2026, 9, 1, 10, tzinfo=UTC)
    assert record.touchpoint_id == Touchpoint.objects.get(message_id="m1").pk


def test_consent_mode_v2_signals_are_recorded(post):
    post(
        identify(
            "u-2",
            {
                "consentMode": {
                    "analytics_storage": "granted",
                    "ad_storage": "granted",
                    "ad_user_data": "denied",
                    "ad_personalization": "denied",
                }
            },
            "m2",
        )
    )

    assert records("u-2") == {
        "analytics": ("granted", "consent_mode"),
        "ad_user_data": ("denied", "consent_mode"),
        "ad_personalization": ("denied", "consent_mode"),
    }
    evidence = ConsentRecord.objects.get(purpose__key="ad_user_data").evidence
    assert evidence == {"consentMode": {"ad_storage": "granted", "ad_user_data": "denied"}}


def test_a_tcf_string_is_decoded_into_purposes(post):
    string = tc_string({1, 3, 4, 8, 9})  # storage, ad profile and selection, measurement

    post(identify("u-3", {"tcString": string}, "m3"))

    assert records("u-3") == {
        "analytics": ("granted", "tcf"),  # 1, 8, 9
        "ad_user_data": ("denied", "tcf"),  # needs 7 as well
        "ad_personalization": ("granted", "tcf"),  # 3, 4
        "personalization": ("denied", "tcf"),  # 5, 6
    }
    evidence = ConsentRecord.objects.get(purpose__key="analytics").evidence
    assert evidence["tcString"] == string and evidence["cmpId"] == 7
    assert evidence["tcfPolicyVersion"] == 4


def test_a_bad_tcf_string_is_reported_and_the_event_kept_without_it(post):
    response = post(
        identify("u-4", {"tcString": "not-a-tc-string"}, "m4"),
        identify("u-4", {"categoryPreferences": {"Email": True}}, "m5"),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    [warning] = body["warnings"]
    assert warning["index"] == 0 and warning["code"] == "invalid_consent"
    assert warning["field"] == "batch[0].context.consent.tcString"
    assert "not a valid IAB TCF string" in warning["message"]
    stored = Touchpoint.objects.get(message_id="m4")
    assert "consent" not in stored.context and stored.profile is not None
    assert records("u-4") == {"email_marketing": ("granted", "segment")}


def test_wrong_consent_mode_values_name_the_signal(post):
    body = post(identify("u-5", {"consentMode": {"ad_storage": "yes"}}, "m6")).json()

    assert body["warnings"][0]["field"] == "batch[0].context.consent.consentMode.ad_storage"
    assert not ConsentRecord.objects.exists()


def test_consent_through_the_rest_api(post):
    post(identify("u-6", {}, "m7", email="ann@example.com"))
    staff = User.objects.create_superuser("dpo", "dpo@example.com", "pw")
    api = APIClient()
    api.force_authenticate(staff)

    created = api.post(
        "/api/v1/consents",
        {
            "identifier": "email:Ann@Example.com",
            "purpose": "email_marketing",
            "status": "granted",
            "given_at": "2026-09-02T08:00:00Z",
            "evidence": {"form": "newsletter-footer"},
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["channel"] == "api" and created.json()["recorded_by"] == "dpo"
    assert created.json()["evidence"] == {"form": "newsletter-footer", "api_user": "dpo"}
    history = api.get("/api/v1/consents/", {"identifier": "user_id:u-6"}).json()["results"]
    assert [(r["purpose"], r["status"]) for r in history] == [("email_marketing", "granted")]

    bad = api.post(
        "/api/v1/consents",
        {"identifier": "email:nobody@example.com", "purpose": "email_marketing", "status": "x"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()) >= {"code", "message"} and bad.json()["field"] in {
        "identifier",
        "status",
    }
    reader = User.objects.create_user("analyst")
    api.force_authenticate(reader)
    denied = api.post(
        "/api/v1/consents",
        {"identifier": "user_id:u-6", "purpose": "analytics", "status": "granted"},
        format="json",
    )
    assert denied.status_code == 403


def test_csv_import_records_good_rows_and_names_bad_lines(post, web):
    post(identify("u-7", {}, "m8", email="bob@example.com"))
    stream = io.StringIO(
        "timestamp,user_id,email,purpose,status,source\n"
        "2026-09-03T09:00:00Z,u-7,,sms_marketing,granted,pos\n"
        "2026-09-03T09:00:00Z,,bob@example.com,email_marketing,denied,preference_center\n"
        "2026-09-03T09:00:00Z,u-7,,teleport,granted,pos\n"
        "not-a-date,u-7,,analytics,granted,pos\n"
        "2026-09-03T09:00:00Z,u-unknown,,analytics,granted,pos\n"
    )

    summary = import_consents(web[0], stream)

    assert (summary.rows, summary.recorded) == (5, 2)
    assert summary.errors[0].startswith("line 4: no purpose 'teleport'")
    assert summary.errors[1].startswith("line 5: timestamp: 'not-a-date'")
    assert summary.errors[2].startswith("line 6: identifier: no profile has user_id")
    assert records("u-7") == {
        "sms_marketing": ("granted", "import"),
        "email_marketing": ("denied", "import"),
    }
    assert ConsentRecord.objects.get(purpose__key="sms_marketing").evidence == {"source": "pos"}


def test_the_policy_follows_defaults_latest_records_expiry_and_region(post):
    post(
        identify("us", {}, "m9", country="US"),
        identify("fr", {}, "m10", country="FR"),
    )
    us, fr = profile_by_identifier("user_id:us").pk, profile_by_identifier("user_id:fr").pk
    t0 = datetime(2026, 9, 1, tzinfo=UTC)

    # Analytics is opt-out by default, opt-in in the EU; email is opt-in everywhere.
    assert allowed_profiles("analytics", [us, fr], at=t0) == {us}
    assert not may_use("email_marketing", us, at=t0)

    record_consent(us, "email_marketing", "granted", channel="api", given_at=t0)
    record_consent(us, "email_marketing", "withdrawn", channel="api", given_at=t0 + timedelta(1))
    assert may_use("email_marketing", us, at=t0 + timedelta(hours=1))
    assert not may_use("email_marketing", us, at=t0 + timedelta(days=2))

    record_consent(
        fr, "analytics", "granted", channel="api", given_at=t0, expires_at=t0 + timedelta(30)
    )
    assert may_use("analytics", fr, at=t0 + timedelta(days=1))
    assert not may_use("analytics", fr, at=t0 + timedelta(days=31))

    state = {row["purpose"]: row for row in current_consent(us, at=t0 + timedelta(days=2))}
    assert state["email_marketing"] == {
        "purpose": "email_marketing",
        "state": "withdrawn",
        "allowed": False,
        "by": "record",
    }
    assert state["analytics"]["by"] == "default (opt_out)" and state["analytics"]["allowed"]


def test_a_merge_takes_the_most_restrictive_state_and_an_unmerge_gives_it_back(post):
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    post(identify("laptop", {}, "m11"))
    post({"type": "identify", "anonymousId": "phone", "messageId": "m12", "timestamp": AT})
    laptop = profile_by_identifier("user_id:laptop").pk
    phone = profile_by_identifier("anonymous_id:phone").pk
    record_consent(laptop, "email_marketing", "granted", channel="api", given_at=t0)
    record_consent(phone, "email_marketing", "denied", channel="api", given_at=t0)
    record_consent(laptop, "personalization", "granted", channel="api", given_at=t0)
    assert may_use("email_marketing", laptop)

    post({"type": "alias", "userId": "laptop", "previousId": "phone", "messageId": "m13"})

    survivor = profile_by_identifier("user_id:laptop").pk
    assert profile_by_identifier("anonymous_id:phone").pk == survivor
    assert not may_use("email_marketing", survivor)  # one "no" is a no
    assert may_use("personalization", survivor)  # nothing said against it
    assert not may_use("email_marketing", phone)  # asked about the merged-away id

    unmerge(MergeDecision.objects.get(), decided_by="dpo")
    assert may_use("email_marketing", laptop) and not may_use("email_marketing", phone)


@pytest.mark.django_db(transaction=True)
def test_the_demo_consent_file_imports(tmp_path):
    from cdp.site.demo.population import generate_population
    from cdp.site.demo.run import run_demo

    generate_population(40, 3, tmp_path)
    with (tmp_path / "consents.csv").open(newline="") as rows:
        lines = sum(1 for _ in csv.DictReader(rows))
    report = run_demo(tmp_path, say=lambda line: None)

    # every line of the generated file is one consent record, none rejected
    assert report.consents == f"{lines} rows, {lines} stored, 0 rejected"
    # seed 3 draws 139 consent lines for 40 customers, whatever the window's dates
    assert lines == 139
    assert ConsentRecord.objects.filter(channel="import").count() == lines
    assert Purpose.objects.count() == 6


def test_import_command_reports_line_numbers(tmp_path, web, capsys):
    path = tmp_path / "consents.csv"
    path.write_text(
        "given_at,identifier,purpose,status\n2026-09-01T00:00:00Z,email:x,analytics,ok\n"
    )

    with pytest.raises(Exception, match="nothing imported"):
        call_command("import_consents", str(path), source="web")
    assert "line 2: identifier" in capsys.readouterr().err
