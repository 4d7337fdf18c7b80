"""Plans as files (import, export, round trips), the API, the admin editor and the pages."""

from __future__ import annotations

import copy
import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from cdp.models import PlanViolationCount, TrackingPlan, TrackingPlanSource
from cdp.services.sources import create_source
from cdp.tracking_plans.selectors import plan_document
from cdp.tracking_plans.services import save_plan

pytestmark = pytest.mark.django_db

PLAN_FILE = Path(__file__).parent / "shop_plan.json"
SHOP = json.loads(PLAN_FILE.read_text())


def with_sources(*names) -> dict:
    return copy.deepcopy(SHOP) | {"sources": list(names)}


def test_an_imported_plan_is_equal_to_its_export(tmp_path, web_source):
    out = StringIO()
    call_command("import_tracking_plan", str(PLAN_FILE), "--source", "web", stdout=out)
    assert out.getvalue().strip() == (
        "Saved tracking plan 'Web shop' (id "
        f"{TrackingPlan.objects.get().pk}): 2 track, 1 page; sources: web"
    )
    exported = tmp_path / "export.json"
    call_command("export_tracking_plan", "Web shop", "--output", str(exported))
    assert json.loads(exported.read_text()) == with_sources("web")
    # ... and the export imports to the same plan, byte for byte the same file again.
    TrackingPlan.objects.all().delete()
    call_command("import_tracking_plan", str(exported), stdout=StringIO())
    again = StringIO()
    call_command("export_tracking_plan", "Web shop", stdout=again)
    assert again.getvalue() == exported.read_text()


def test_a_bad_file_is_refused_with_its_line_or_path(tmp_path, db):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "name": "x",\n  "events": [\n    {"name": }\n  ]\n}\n')
    with pytest.raises(CommandError, match=r"broken.json: file: not valid JSON at line 4"):
        call_command("import_tracking_plan", str(broken))
    wrong = tmp_path / "wrong.json"
    plan = copy.deepcopy(SHOP)
    plan["events"][1]["properties"]["required"] = "product_id"
    wrong.write_text(json.dumps(plan))
    with pytest.raises(CommandError, match=r"events\[1\]\.properties\.required: 'product_id'"):
        call_command("import_tracking_plan", str(wrong))
    with pytest.raises(CommandError, match=r"sources\[0\]: no source named 'nowhere'"):
        call_command("import_tracking_plan", str(PLAN_FILE), "--source", "nowhere")
    assert TrackingPlan.objects.count() == 0


def test_a_second_import_needs_replace_and_a_source_follows_one_plan(web_source):
    call_command("import_tracking_plan", str(PLAN_FILE), "--source", "web", stdout=StringIO())
    with pytest.raises(CommandError, match="name: a plan of this name exists"):
        call_command("import_tracking_plan", str(PLAN_FILE))
    call_command("import_tracking_plan", str(PLAN_FILE), "--replace", stdout=StringIO())
    assert TrackingPlanSource.objects.count() == 0  # the file names no source
    other = with_sources("web") | {"name": "Other"}
    save_plan(other)
    with pytest.raises(Exception, match="'web' already follows the plan 'Other'"):
        save_plan(with_sources("web"), replace=True)


def test_a_protocols_export_is_imported(tmp_path, db):
    from tests.cdp.tracking_plans.test_engine import CONFIG_API_EXPORT

    path = tmp_path / "protocols.json"
    path.write_text(json.dumps(CONFIG_API_EXPORT))
    call_command("import_tracking_plan", str(path), stdout=StringIO())
    plan = TrackingPlan.objects.get()
    assert plan.name == "Kicks App"
    assert [event["name"] for event in plan_document(plan)["events"]] == ["Order Completed"]


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_the_api_saves_exports_and_refuses_naming_the_field(staff, web_source):
    created = staff.post(
        "/api/v1/tracking-plans/", with_sources("web"), content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["document"] == with_sources("web")
    assert staff.get(f"/api/v1/tracking-plans/{pk}/export/").json() == with_sources("web")

    bad = with_sources("web")
    bad["modes"]["wrong_type"] = "explode"
    refused = staff.put(f"/api/v1/tracking-plans/{pk}/", bad, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "invalid_tracking_plan",
        "message": "modes.wrong_type: must be one of allow, flag, block",
        "field": "modes.wrong_type",
    }
    changed = with_sources("web")
    changed["events"] = changed["events"][:1]
    assert (
        staff.put(
            f"/api/v1/tracking-plans/{pk}/", changed, content_type="application/json"
        ).status_code
        == 200
    )
    assert (
        staff.get(f"/api/v1/tracking-plans/{pk}/").json()["document"]["events"] == changed["events"]
    )
    listed = staff.get("/api/v1/tracking-plans/").json()["results"]
    assert [row["id"] for row in listed] == [pk]


def test_the_api_lists_violations_and_infers_a_plan(staff, web_source, segment_post):
    source, key = web_source
    plan = save_plan(with_sources("web"))
    segment_post(
        "batch",
        {
            "batch": [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": "u",
                    "properties": {"order_id": "o"},
                },
                {
                    "type": "track",
                    "event": "Coupon Applied",
                    "userId": "u",
                    "properties": {"code": "X"},
                },
            ]
        },
        write_key=key,
    )
    body = staff.get(f"/api/v1/tracking-plans/{plan.pk}/violations/?days=7").json()
    assert [
        (row["event_name"], row["property"], row["kind"], row["count"], row["new"])
        for row in body["violations"]
    ] == [
        ("Coupon Applied", "event", "unplanned_event", 1, True),
        ("Order Completed", "properties.revenue", "missing_required", 1, True),
    ]
    wrong = staff.get(f"/api/v1/tracking-plans/{plan.pk}/violations/?kind=nope")
    assert (wrong.status_code, wrong.json()["field"]) == (400, "kind")

    proposed = staff.post(
        "/api/v1/tracking-plans/infer/",
        {"source": "web", "days": 7, "name": "Proposed"},
        content_type="application/json",
    ).json()
    assert [(e["type"], e["name"]) for e in proposed["events"]] == [
        ("track", "Coupon Applied"),
        ("track", "Order Completed"),
    ]
    assert proposed["sources"] == ["web"]
    missing = staff.post(
        "/api/v1/tracking-plans/infer/", {"source": "nowhere"}, content_type="application/json"
    )
    assert (missing.status_code, missing.json()["field"]) == (400, "source")


def test_the_api_needs_the_tracking_plan_permissions(user_in, db):
    assert user_in(name="nobody").get("/api/v1/tracking-plans/").status_code == 403


def test_the_admin_saves_an_unchanged_plan_unchanged(staff, web_source):
    plan = save_plan(with_sources("web"))
    page = staff.get(f"/admin/cdp/trackingplan/{plan.pk}/change/")
    assert page.status_code == 200
    shown = page.context["adminform"].form["document"].value()
    assert json.loads(shown) == with_sources("web")
    saved = staff.post(f"/admin/cdp/trackingplan/{plan.pk}/change/", {"document": shown})
    assert saved.status_code == 302
    plan.refresh_from_db()
    assert plan_document(plan) == with_sources("web")


def test_the_admin_refuses_a_bad_plan_beside_the_field_and_keeps_the_text(staff, db):
    text = json.dumps(with_sources("nowhere"))
    page = staff.post("/admin/cdp/trackingplan/add/", {"document": text})
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.errors["document"] == ["sources[0]: no source named 'nowhere'"]
    assert form["document"].value() == text
    assert TrackingPlan.objects.count() == 0


def test_the_admin_lists_violations_with_samples(staff, web_source, segment_post):
    source, key = web_source
    plan = save_plan(with_sources("web"))
    segment_post(
        "track",
        {"event": "Order Completed", "userId": "u", "properties": {"order_id": 7, "revenue": 1}},
        write_key=key,
    )
    listed = staff.get("/admin/cdp/planviolationcount/").content.decode()
    assert "properties.order_id = 7 (must be string, got integer)" in listed
    change = staff.get(f"/admin/cdp/trackingplan/{plan.pk}/change/").content.decode()
    assert "NEW" in change and "wrong_type" in change


def test_the_pages_show_plans_and_their_violations(user_in, web_source, segment_post):
    source, key = web_source
    plan = save_plan(with_sources("web"))
    segment_post(
        "track",
        {
            "event": "Order Completed",
            "userId": "u",
            "properties": {"order_id": "o", "revenue": "9"},
        },
        write_key=key,
    )
    analyst = user_in("Analysts")
    listing = analyst.get("/app/tracking-plans/")
    assert listing.status_code == 200
    rows = listing.context["tables"]["plans"].rows
    assert [[str(cell) for cell in row[:5]] for row in rows] == [["Web shop", "web", "3", "1", "1"]]
    page = analyst.get(f"/app/tracking-plans/{plan.pk}/")
    assert page.status_code == 200
    (row,) = page.context["tables"]["violations"].rows
    assert row[:7] == [
        "new",
        "web",
        "track Order Completed",
        "properties.revenue",
        "wrong type",
        1,
        "flagged 1",
    ]
    assert row[9] == "(hidden)"  # analysts do not see personal data
    steward = user_in("Identity stewards")
    (row,) = steward.get(f"/app/tracking-plans/{plan.pk}/").context["tables"]["violations"].rows
    assert row[9] == '"9"'
    assert analyst.get(f"/app/tracking-plans/{plan.pk}/?days=0").status_code == 400
    assert user_in(name="nobody").get("/app/tracking-plans/").status_code == 403
    csv = analyst.get(f"/app/tracking-plans/{plan.pk}/?download=violations")
    assert csv.content.decode().splitlines()[1].startswith("new,web,track Order Completed")


def test_deleting_a_plan_takes_its_counts_and_links_not_the_events(web_source, segment_post):
    from cdp.models import Touchpoint
    from cdp.tracking_plans.services import delete_plan

    source, key = web_source
    plan = save_plan(with_sources("web"))
    segment_post("track", {"event": "Nope", "userId": "u"}, write_key=key)
    assert PlanViolationCount.objects.count() == 1
    delete_plan(plan)
    assert (PlanViolationCount.objects.count(), TrackingPlanSource.objects.count()) == (0, 0)
    assert Touchpoint.objects.count() == 1


def test_infer_command_saves_in_the_mode_asked(web_source, segment_post):
    _, key = web_source
    create_source("app", kind="app")
    segment_post(
        "track", {"event": "Signed Up", "userId": "u", "properties": {"plan": "pro"}}, write_key=key
    )
    out = StringIO()
    call_command(
        "infer_tracking_plan",
        "web",
        "--days",
        "1",
        "--save",
        "--mode",
        "block",
        stdout=out,
        stderr=StringIO(),
    )
    plan = TrackingPlan.objects.get(name="web (inferred)")
    assert out.getvalue().strip() == f"Saved tracking plan 'web (inferred)' (id {plan.pk}): 1 track"
    assert set(plan.modes.values()) == {"block"}
    assert plan_document(plan)["sources"] == ["web"]
    with pytest.raises(CommandError, match="--days: at least 1 day"):
        call_command("infer_tracking_plan", "app", "--days", "0")
