"""A file destination writes only inside the export directory (OMNITRAIL_EXPORT_DIR):
exports hold emails and phones, and a path that leads elsewhere is refused."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from attribution.models import Destination, Export, Segment
from attribution.segments.destinations import export_folder, export_segment
from cdp.errors import InvalidField
from consent.models import Purpose

pytestmark = pytest.mark.django_db
ESCAPES = [
    "exports/../../../../outside/x",
    "../outside",
    "/etc",
    "/tmp/elsewhere",
    "a/../../b",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_a_path_out_of_the_export_directory_is_refused(path, export_dir):
    with pytest.raises(InvalidField) as refused:
        export_folder(path)
    assert refused.value.field == "path" and str(export_dir) in refused.value.message


def test_a_folder_inside_it_is_kept_and_blank_is_the_directory_itself(export_dir):
    assert export_folder("audiences/ads") == export_dir.resolve() / "audiences" / "ads"
    assert export_folder("a/../b") == export_dir.resolve() / "b"
    assert export_folder(str(export_dir / "crm")) == export_dir.resolve() / "crm"
    assert export_folder("") == export_dir.resolve()


def test_a_symbolic_link_out_of_the_directory_is_refused(export_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    (export_dir / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidField):
        export_folder("link/x")


def test_an_export_to_a_stored_escaping_path_writes_nothing(export_dir, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    segment = Segment.objects.create(
        name="all", definition={"fact": "clv", "op": "gte", "value": 0}
    )
    # stored without the form (as a row written before this check existed)
    destination = Destination.objects.create(
        name="Ads",
        kind="file",
        purpose=Purpose.objects.get(key="ad_user_data"),
        path=str(outside / "x"),
    )
    with pytest.raises(InvalidField):
        export_segment(destination, segment)
    assert not Export.objects.exists() and not any(outside.iterdir())


def test_the_admin_form_shows_the_error_beside_the_path_field(export_dir):
    client = Client()
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    purpose = Purpose.objects.get(key="ad_user_data")
    segment = Segment.objects.create(
        name="all", definition={"fact": "clv", "op": "gte", "value": 0}
    )
    form = {
        "name": "Ads",
        "segments": [segment.pk],
        "kind": "file",
        "purpose": purpose.pk,
        "format": "csv",
        "path": "exports/../../../../outside/x",
        "max_attempts": 6,
        "active": "on",
    }
    response = client.post("/admin/attribution/destination/add/", form)
    assert response.status_code == 200  # the form again, with its error
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["path"] and "export directory" in errors["path"][0]
    assert not Destination.objects.exists()

    response = client.post("/admin/attribution/destination/add/", {**form, "path": "ads"})
    assert response.status_code == 302
    assert Destination.objects.get().path == "ads"
