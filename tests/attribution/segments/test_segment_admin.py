"""The segment editor in the Django admin: the JSON definition is what the form posts,
so a saved rule comes back exactly as stored; the estimate is an inline JSON call."""

import json

import pytest

from attribution.models import Segment

pytestmark = pytest.mark.django_db

RULES = {
    "all": [
        {"trait": "city", "op": "equals", "value": "Paris"},
        {
            "not": {
                "event": "Order Completed",
                "did": True,
                "at_least": 2,
                "within_days": 30,
                "where": {"category": "Jackets", "coupon": "10"},
            }
        },
    ]
}


def form(**fields):
    data = {
        "name": "Paris, not Berlin",
        "description": "",
        "purpose": "",
        "refresh_minutes": "60",
        "active": "on",
        "start_from": "",
        "definition": json.dumps(RULES),
    }
    return data | fields


@pytest.fixture
def parisians(deliver):
    deliver(
        {"type": "identify", "userId": "ann", "traits": {"city": "Paris", "age": 30}},
        {"type": "identify", "userId": "bea", "traits": {"city": "Paris", "vip": True}},
        {"type": "identify", "userId": "bob", "traits": {"city": "Lyon", "zip": "0100"}},
        {
            "type": "track",
            "userId": "bob",
            "event": "Order Completed",
            "properties": {"revenue": 5},
        },
    )


def estimate(client, definition, **extra):
    return client.post(
        "/admin/attribution/segment/estimate/",
        json.dumps({"definition": definition, **extra}),
        content_type="application/json",
    )


def test_the_estimate_answers_inline_with_size_and_consent_left_outs(admin_client, parisians):
    answer = estimate(admin_client, RULES)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["size"], body["left_out_for_consent"]) == (2, 0)
    assert body["in_words"].startswith("trait city is Paris and not (did")
    assert not Segment.objects.exists()  # estimating saves nothing


def test_an_estimate_of_a_wrong_rule_names_its_place(admin_client, parisians):
    wrong = {"all": [{"trait": "city", "op": "gt", "value": "Paris"}]}
    answer = estimate(admin_client, wrong)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "invalid_segment_rule",
        "message": "definition.all[0].value: gt compares with a number",
        "field": "definition.all[0].value",
    }


def test_a_typo_in_an_event_name_is_a_message_with_the_right_name(admin_client, parisians):
    typo = {"event": "Order Complete", "did": True, "at_least": 2}
    answer = estimate(admin_client, typo)
    assert answer.status_code == 400
    assert answer.json()["message"] == (
        "definition.event: no event 'Order Complete' has been seen "
        "(did you mean 'Order Completed'?)"
    )
    saved = admin_client.post(
        "/admin/attribution/segment/add/", form(definition=json.dumps(typo), _save="Save")
    )
    assert saved.status_code == 200
    assert b"did you mean &#x27;Order Completed&#x27;?" in saved.content
    assert not Segment.objects.exists()


def test_a_saved_segment_keeps_its_rules_and_their_types(
    admin_client, parisians, django_capture_on_commit_callbacks
):
    typed = {
        "any": [
            {"all": [{"trait": "age", "op": "equals", "value": 30}, RULES["all"][1]]},
            {"trait": "vip", "op": "equals", "value": True},
            {"trait": "zip", "op": "in", "value": ["0100", "2000"]},
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):  # the refresh follows the commit
        saved = admin_client.post(
            "/admin/attribution/segment/add/", form(definition=json.dumps(typed), _save="Save")
        )
    assert saved.status_code == 302, saved.content.decode()[:3000]
    segment = Segment.objects.get()
    assert segment.definition == typed
    assert segment.definition["any"][2]["value"] == ["0100", "2000"]
    assert segment.size == 3  # ann (age 30), bea (vip), bob (zip "0100")

    page = admin_client.get(f"/admin/attribution/segment/{segment.pk}/change/")
    assert page.status_code == 200
    # The page's JSON box holds the stored rules unchanged: posting it back keeps them.
    shown = page.context["adminform"].form["definition"].value()
    again = admin_client.post(
        f"/admin/attribution/segment/{segment.pk}/change/",
        form(definition=shown, _save="Save"),
    )
    assert again.status_code == 302
    segment.refresh_from_db()
    assert segment.definition == typed


def test_a_segment_named_by_name_is_stored_by_id(admin_client, parisians):
    other = Segment.objects.create(name="Parisians", definition=RULES["all"][0])
    by_name = {
        "all": [
            {"trait": "age", "op": "gte", "value": 18},
            {"segment": "parisians", "member": False},
        ]
    }
    saved = admin_client.post(
        "/admin/attribution/segment/add/",
        form(name="Adults outside Paris", definition=json.dumps(by_name), _save="Save"),
    )
    assert saved.status_code == 302
    stored = Segment.objects.get(name="Adults outside Paris").definition
    assert stored["all"][1] == {"segment": other.pk, "member": False}

    unknown = {"segment": "Parisiens", "member": True}
    answer = admin_client.post(
        "/admin/attribution/segment/add/",
        form(name="x", definition=json.dumps(unknown), _save="Save"),
    )
    assert answer.status_code == 200
    assert "no segment named &#x27;Parisiens&#x27; (did you mean &#x27;Parisians&#x27;?)" in (
        answer.content.decode()
    )


def test_a_template_fills_the_rules(admin_client):
    data = form(start_from="lapsed_customers", name="Lapsed", definition="", _save="Save")
    assert admin_client.post("/admin/attribution/segment/add/", data).status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {"fact": "days_since_last_order", "op": "gt", "value": 90}
    assert segment.template == "lapsed_customers"


def test_no_rules_and_bad_json_are_messages_beside_the_box(admin_client):
    empty = admin_client.post("/admin/attribution/segment/add/", form(definition="", _save="1"))
    assert empty.status_code == 200
    assert b"definition: add at least one rule" in empty.content
    broken = admin_client.post("/admin/attribution/segment/add/", form(definition="{", _save="1"))
    assert broken.status_code == 200
    assert b"Enter a valid JSON." in broken.content
    assert not Segment.objects.exists()


def test_the_editor_offers_what_the_data_holds(admin_client, parisians):
    page = admin_client.get("/admin/attribution/segment/add/")
    vocabulary = page.context["rule_vocabulary"]
    assert vocabulary["events"] == [{"name": "Order Completed", "times": 1}]
    assert vocabulary["properties"]["Order Completed"] == [{"key": "revenue", "values": [5]}]
    assert {"age", "city", "vip", "zip"} <= set(vocabulary["traits"])
    assert "Email" in vocabulary["channels"] and "In-store" in vocabulary["channels"]
    orders = next(f for f in vocabulary["facts"] if f["key"] == "order_count")
    assert orders == {
        "key": "order_count",
        "label": "Number of orders",
        "unit": "orders",
        "type": "number",
    }
    revenue = next(f for f in vocabulary["facts"] if f["key"] == "total_revenue")
    assert revenue["unit"] == "USD"
