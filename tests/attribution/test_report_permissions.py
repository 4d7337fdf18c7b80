"""The credit and report endpoints show what the report pages show: a token needs the
pages' permission (attribution.view_reports) or the view permission of the model read."""

import pytest
from django.contrib.auth.models import Permission, User
from knox.models import AuthToken
from rest_framework.test import APIClient

from attribution.api import REPORTS

pytestmark = pytest.mark.django_db


def token_client(*perms: str) -> APIClient:
    user = User.objects.create_user(f"u{User.objects.count()}")
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    _, token = AuthToken.objects.create(user, expiry=None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_a_token_without_permissions_reads_no_credit_and_no_report():
    api = token_client()
    paths = ["/api/v1/attribution/credits?model=linear"] + [
        f"/api/v1/attribution/reports/{name}" for name in REPORTS
    ]
    answers = {path: api.get(path) for path in paths}
    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(paths, 403)
    body = answers[paths[0]].json()
    assert body["code"] == "permission_denied" and "view_reports" in body["message"]


def past_the_check(response) -> bool:
    """No run yet: past the permission check, the endpoint says there is none (400)."""
    return response.status_code == 400 and response.json()["field"] == "goal"


def test_the_view_permission_of_what_is_shown_opens_that_endpoint_only():
    credits_only = token_client("attribution.view_credit")
    assert past_the_check(credits_only.get("/api/v1/attribution/credits?model=linear"))
    assert credits_only.get("/api/v1/attribution/reports/paths").status_code == 403
    runs_only = token_client("attribution.view_attributionrun")
    assert past_the_check(runs_only.get("/api/v1/attribution/reports/paths"))
    assert runs_only.get("/api/v1/attribution/credits?model=linear").status_code == 403
    reader = token_client("attribution.view_reports")
    assert past_the_check(reader.get("/api/v1/attribution/credits?model=linear"))
    assert past_the_check(reader.get("/api/v1/attribution/reports/budget"))
