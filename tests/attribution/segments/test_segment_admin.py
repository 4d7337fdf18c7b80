"""The segment editor in the Django admin, saved by a staff user."""

import pytest

from attribution.models import Segment

pytestmark = pytest.mark.django_db


def form(**fields):
    data = {
        "name": "Paris, not Berlin",
        "description": "",
        "purpose": "",
        "refresh_minutes": "60",
        "active": "on",
        "start_from": "",
        "definition": "",
        "rules-TOTAL_FORMS": "2",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
        "rules-0-group": "1",
        "rules-0-kind": "trait",
        "rules-0-name": "city",
        "rules-0-op": "equals",
        "rules-0-value": "Paris",
        "rules-1-group": "1",
        "rules-1-negate": "on",
        "rules-1-kind": "event",
        "rules-1-name": "Order Completed",
        "rules-1-op": "",
        "rules-1-value": "",
        "rules-1-at_least": "2",
        "rules-1-within_days": "30",
        "rules-1-where": "category=Jackets",
    }
    return data | fields


@pytest.fixture
def parisians(deliver):
    deliver(
        {"type": "identify", "userId": "ann", "traits": {"city": "Paris"}},
        {"type": "identify", "userId": "bea", "traits": {"city": "Paris"}},
        {"type": "identify", "userId": "bob", "traits": {"city": "Lyon"}},
    )


def test_staff_estimate_then_save_a_segment_from_rule_rows(
    admin_client, parisians, django_capture_on_commit_callbacks
):
    estimate = admin_client.post("/admin/attribution/segment/add/", form(_estimate="1"))
    assert estimate.status_code == 200
    assert b"Estimated size: 2 profiles (0 left out for consent)" in estimate.content
    assert not Segment.objects.exists()  # estimating saves nothing

    with django_capture_on_commit_callbacks(execute=True):  # the refresh follows the commit
        saved = admin_client.post("/admin/attribution/segment/add/", form(_save="Save"))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    segment = Segment.objects.get()
    assert segment.definition == {
        "all": [
            {"trait": "city", "op": "equals", "value": "Paris"},
            {
                "not": {
                    "event": "Order Completed",
                    "did": True,
                    "at_least": 2,
                    "within_days": 30,
                    "where": {"category": "Jackets"},
                }
            },
        ]
    }
    assert segment.size == 2  # refreshed after the save
    page = admin_client.get(f"/admin/attribution/segment/{segment.pk}/change/")
    assert b"trait city is Paris and not (did" in page.content
    assert b'value="Order Completed"' in page.content  # the rows come back for editing


def test_a_bad_rule_row_is_explained(admin_client):
    bad = admin_client.post(
        "/admin/attribution/segment/add/",
        form(**{"rules-0-op": "gt", "rules-0-value": "Paris", "_save": "Save"}),
    )
    assert bad.status_code == 200
    assert b"definition.all[0].value: gt compares with a number" in bad.content
    assert not Segment.objects.exists()


def test_a_template_fills_the_rules(admin_client):
    data = form(start_from="lapsed_customers", name="Lapsed", _save="Save")
    data |= {"rules-TOTAL_FORMS": "0"}
    assert admin_client.post("/admin/attribution/segment/add/", data).status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {"fact": "days_since_last_order", "op": "gt", "value": 90}
    assert segment.template == "lapsed_customers"
