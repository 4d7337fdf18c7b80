"""A CRM export's own column names import without editing the file: `import_records
--map` and a mapping saved on the source; other columns stay custom traits."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cdp.models import Source, Touchpoint
from cdp.services.sources import create_source

pytestmark = pytest.mark.django_db

CSV = """rec_id,given_name,surname,postal_code,dob,loyalty_tier
R-1,Ann,Lee,2000,19850304,gold
R-2,Bo,Chen,3000,,silver
"""


def _import(tmp_path, **options):
    path = tmp_path / "crm.csv"
    path.write_text(CSV)
    out = io.StringIO()
    call_command(
        "import_records",
        str(path),
        source="crm",
        kind="records",
        id_column="rec_id",
        stdout=out,
        stderr=io.StringIO(),
        **options,
    )
    return out.getvalue()


def _traits():
    return {t.context["externalIds"][0]["id"]: t.traits for t in Touchpoint.objects.all()}


def test_map_names_the_files_columns_for_standard_traits(tmp_path):
    create_source("crm", kind="crm")
    _import(tmp_path, map="given_name=first_name, surname=last_name,dob=birthday")
    assert _traits()["R-1"] == {
        "first_name": "Ann",
        "last_name": "Lee",
        "birthday": "1985-03-04",
        "postal_code": "2000",
        "loyalty_tier": "gold",  # unmapped: a custom trait as it was
    }


def test_a_mapping_saved_on_the_source_applies_and_map_adds_to_it(tmp_path):
    source, _ = create_source("crm", kind="crm")
    Source.objects.filter(pk=source.pk).update(
        column_mapping={"given_name": "first_name", "surname": "last_name"}
    )
    _import(tmp_path, map="dob=birthday")
    traits = _traits()["R-2"]
    assert traits == {
        "first_name": "Bo",
        "last_name": "Chen",
        "postal_code": "3000",
        "loyalty_tier": "silver",
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("given_name=given", "--map: 'given' (for column 'given_name') is not a standard trait"),
        ("given_name", "--map: 'given_name' is not column=trait"),
        ("given_name=first_name,surname=first_name", "'given_name' and 'surname' are both mapped"),
    ],
)
def test_a_mapping_to_no_standard_trait_is_refused_naming_it(tmp_path, given, message):
    create_source("crm", kind="crm")
    with pytest.raises(CommandError) as refused:
        _import(tmp_path, map=given)
    assert message in str(refused.value)
    assert Touchpoint.objects.count() == 0


def test_the_admin_refuses_a_saved_mapping_to_no_standard_trait(admin_client):
    source, _ = create_source("crm", kind="crm")
    answer = admin_client.post(
        f"/admin/cdp/source/{source.pk}/change/",
        {
            "name": "crm",
            "kind": "crm",
            "enabled": "on",
            "rate_limit": "",
            "date_order": "MDY",
            "column_mapping": '{"surname": "family"}',
        },
    )
    assert answer.status_code == 200
    assert (
        "&#x27;family&#x27; (for column &#x27;surname&#x27;) is not a standard trait"
        in answer.content.decode()
    )
    answer = admin_client.post(
        f"/admin/cdp/source/{source.pk}/change/",
        {
            "name": "crm",
            "kind": "crm",
            "enabled": "on",
            "rate_limit": "",
            "date_order": "MDY",
            "column_mapping": '{"surname": "last_name"}',
        },
    )
    assert answer.status_code == 302
    source.refresh_from_db()
    assert (source.date_order, source.column_mapping) == ("MDY", {"surname": "last_name"})
