"""Attribution runs from stored touchpoints, costs, the credits API and the export."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from attribution.engine.models import MODELS
from attribution.models import Cost, Credit
from attribution.services import import_costs, refresh_attribution
from consent.selectors import profile_by_identifier
from consent.services import record_consent
from tests.factories import report_reader

pytestmark = pytest.mark.django_db


def credited(run, model):
    rows = Credit.objects.filter(run=run, model=model)
    return {(c.channel, c.campaign): (round(c.conversions, 6), round(c.value, 2)) for c in rows}


def test_a_run_credits_every_model_exactly(shoppers):
    run = refresh_attribution("purchase")

    assert run.status == "completed" and run.models_run == list(MODELS)
    assert (run.journeys, run.conversions, float(run.value)) == (3, 2, 150.0)
    assert credited(run, "last_touch") == {
        ("Email", "autumn"): (1, 120),
        ("Display", "retarget"): (1, 30),
    }
    assert credited(run, "linear") == {
        ("Paid Search", "brand"): (0.5, 60),
        ("Email", "autumn"): (0.5, 60),
        ("Display", "retarget"): (1, 30),
    }
    for model in MODELS:
        rows = Credit.objects.filter(run=run, model=model)
        assert sum(r.conversions for r in rows) == pytest.approx(2)
        assert sum(r.value for r in rows) == pytest.approx(150)


def test_a_withdrawn_profile_disappears_from_the_next_refresh(shoppers):
    before = refresh_attribution("purchase", models=["linear"])
    record_consent(profile_by_identifier("user_id:ann"), "analytics", "withdrawn", channel="api")

    after = refresh_attribution("purchase", models=["linear"])

    assert (before.conversions, before.profiles_left_out_for_consent) == (2, 0)
    assert (after.conversions, after.profiles_left_out_for_consent) == (1, 1)
    assert credited(after, "linear") == {("Display", "retarget"): (1, 30)}


def test_costs_from_a_file_are_stored_once_and_bad_lines_named():
    text = (
        "date,channel,source,medium,campaign,cost,currency,impressions,clicks\n"
        "2026-09-20,Paid Search,google,cpc,brand,12.50,USD,100,9\n"
        "2026-09-21,Display,gdn,display,retarget,6.00,USD,400,3\n"
        "2026-09-32,Display,gdn,display,retarget,6.00,USD,400,3\n"
        "2026-09-22,Display,gdn,display,retarget,lots,USD,,\n"
    )

    first = import_costs(io.StringIO(text))
    again = import_costs(io.StringIO(text))

    assert (first.rows, first.stored) == (4, 2)
    assert first.errors == [
        "line 4: date: '2026-09-32' is not YYYY-MM-DD",
        "line 5: cost: 'lots' is not a number",
    ]
    assert again.stored == 2 and Cost.objects.count() == 2


def test_credits_api_with_cost_roas_and_cpa(shoppers):
    import_costs(
        io.StringIO(
            "date,channel,campaign,cost\n"
            "2026-09-25,Paid Search,brand,30\n"
            "2026-09-26,Display,retarget,60\n"
            "2026-09-26,Paid Social,launch,10\n"
        )
    )
    refresh_attribution("purchase")
    api = APIClient()
    api.force_authenticate(report_reader("analyst"))

    body = api.get("/api/v1/attribution/credits", {"model": "linear"}).json()

    by_channel = {row["channel"]: row for row in body["results"]}
    assert by_channel["Paid Search"] == {
        "model": "linear",
        "channel": "Paid Search",
        "conversions": 0.5,
        "revenue": 60.0,
        "cost": 30.0,
        "roas": 2.0,
        "cpa": 60.0,
    }
    assert by_channel["Display"]["roas"] == 0.5 and by_channel["Display"]["cpa"] == 60.0
    assert by_channel["Email"]["roas"] is None  # nothing spent
    assert by_channel["Paid Social"]["revenue"] == 0 and by_channel["Paid Social"]["cost"] == 10
    campaigns = api.get(
        "/api/v1/attribution/credits/", {"model": "markov", "group_by": "campaign"}
    ).json()
    assert {row["campaign"] for row in campaigns["results"]} >= {"brand", "autumn", "retarget"}
    bad = api.get("/api/v1/attribution/credits", {"model": "magic"})
    assert bad.status_code == 400 and bad.json()["field"] == "model"


def test_costs_api_all_or_nothing():
    staff = User.objects.create_superuser("ops", "ops@example.com", "pw")
    api = APIClient()
    api.force_authenticate(staff)
    good = {"date": "2026-09-20", "channel": "Paid Search", "campaign": "brand", "cost": "5"}

    assert api.post("/api/v1/costs", good, format="json").status_code == 201
    bad = api.post("/api/v1/costs", [good, {**good, "cost": "-3"}], format="json")

    assert bad.status_code == 400 and bad.json()["field"] == "[1].cost"
    assert Cost.objects.count() == 1 and Cost.objects.get().cost == 5
    api.force_authenticate(report_reader("analyst"))
    assert api.post("/api/v1/costs", good, format="json").status_code == 403


def test_refresh_and_export_commands(shoppers, capsys):
    call_command("refresh_attribution", "--models", "linear", "last_touch")
    assert "2 conversions worth 150" in capsys.readouterr().out

    call_command("export_attribution", "--model", "last_touch")

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model,channel,campaign,conversions,revenue,cost,roas,cpa"
    assert "last_touch,Email,autumn,1.0,120.0,0.0,," in lines
    with pytest.raises(CommandError, match="not in run"):
        call_command("export_attribution", "--model", "markov")
    with pytest.raises(CommandError, match="no goal 'signup'"):
        call_command("refresh_attribution", "--goal", "signup")
