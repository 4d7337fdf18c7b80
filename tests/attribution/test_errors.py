"""Attribution's refusals over HTTP and in commands: a 400 whose JSON names the field,
a command error naming the option."""

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from attribution.models import Cost
from attribution.services import refresh_attribution

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


def test_a_report_of_a_goal_without_a_run_is_a_400_naming_the_goal(api):
    bad = api.get("/api/v1/attribution/credits", {"goal": "signup", "model": "linear"})

    assert bad.status_code == 400
    assert bad.json() == {
        "code": "no_run",
        "field": "goal",
        "message": "goal: no completed attribution run for 'signup' yet (run refresh_attribution)",
    }


def test_a_bad_cost_line_is_named_by_its_index_and_field(api):
    good = {"date": "2026-09-20", "channel": "Paid Search", "cost": "5"}

    bad = api.post("/api/v1/costs", [good, {**good, "date": "2026-09-31"}], format="json")

    assert bad.status_code == 400
    assert bad.json() == {
        "code": "invalid_field",
        "field": "[1].date",
        "message": "[1].date: '2026-09-31' is not YYYY-MM-DD",
    }
    assert not Cost.objects.exists()
    for cost in ("NaN", "Infinity"):
        refused = api.post("/api/v1/costs", {**good, "cost": cost}, format="json")
        assert refused.json()["field"] == "[0].cost", refused.json()


def test_budget_advice_without_any_spend_says_so(api, shoppers):
    nothing = {"date": "2026-09-20", "channel": "Email", "cost": "0"}
    api.post("/api/v1/costs", nothing, format="json")
    refresh_attribution("purchase", models=["linear"])

    bad = api.get("/api/v1/attribution/reports/budget", {"model": "linear"})

    assert bad.status_code == 400
    assert bad.json() == {
        "code": "no_spend",
        "message": "spend has no spend in any channel: nothing to advise on",
    }


def test_commands_name_the_option_at_fault(shoppers):
    with pytest.raises(CommandError, match=r"^--models: unknown magic \(known: first_touch"):
        call_command("refresh_attribution", "--models", "magic")
    with pytest.raises(CommandError, match=r"^--goal: no goal 'signup' \(known: purchase\)"):
        call_command("refresh_attribution", "--goal", "signup")
    with pytest.raises(CommandError, match=r"^--goal: no completed attribution run for 'purchase'"):
        call_command("export_attribution", "--model", "linear")
