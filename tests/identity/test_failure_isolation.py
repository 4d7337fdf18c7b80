"""One touchpoint stitching cannot place never stops the others: it is set aside with
its error, counted and shown to operators (admin, API), and everything else resolves."""

from __future__ import annotations

import pytest
from django.db import connection

from cdp.models import Touchpoint
from identity.models import Identifier, StitchingFailure
from identity.services.stitching import resolve_pending, retry_stitching_failures
from tests.factories import SourceFactory, TouchpointFactory

pytestmark = pytest.mark.django_db


def _identify(source, n, **traits):
    return TouchpointFactory(
        source=source,
        type="identify",
        user_id=f"u-{n}",
        traits={"email": f"p{n}@example.com", **traits},
    )


def _batch_with(poison):
    source = SourceFactory()
    good = [_identify(source, n) for n in range(9)]
    bad = poison(source)
    more = [_identify(source, n) for n in range(9, 12)]
    return good + more, bad


def test_an_event_stored_with_a_context_that_is_no_object_is_placed_by_its_ids():
    # A touchpoint an older version stored with a context that is no object: stitching
    # reads only the parts of a context it needs, so the event's own ids still place it.
    good, odd = _batch_with(
        lambda source: TouchpointFactory(source=source, user_id="x", context="garbage")
    )

    assert resolve_pending() == 13  # the sweep: all 13 oldest in one chunk

    assert Touchpoint.objects.filter(resolved_at__isnull=True).count() == 0
    for touchpoint in [*good, odd]:
        touchpoint.refresh_from_db()
        assert touchpoint.profile is not None
    assert Identifier.objects.get(kind="user_id", value="x").profile_id == odd.profile_id
    assert Identifier.objects.filter(kind="email").count() == 12
    assert not StitchingFailure.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce lengths")
def test_an_email_longer_than_its_column_fails_alone():
    good, bad = _batch_with(lambda source: _identify(source, 99, email="a" * 300 + "@example.com"))

    assert resolve_pending() == 13

    assert Touchpoint.objects.filter(resolved_at__isnull=True).count() == 0
    for touchpoint in good:
        touchpoint.refresh_from_db()
        assert touchpoint.profile is not None
    assert Identifier.objects.filter(kind="email").count() == 12
    assert StitchingFailure.objects.get().touchpoint_id == bad.pk
    assert "DataError" in StitchingFailure.objects.get().error
    bad.refresh_from_db()
    assert bad.profile is None and bad.resolved_at is not None
    assert resolve_pending() == 0  # the sweep does not fail on it again, nor retry it


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce lengths")
def test_operators_see_the_failures_and_resolve_them_again(admin_client):
    _, bad = _batch_with(lambda source: _identify(source, 99, email="a" * 300 + "@example.com"))
    resolve_pending()

    listed = admin_client.get("/api/v1/stitching-failures/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert row["touchpoint_id"] == bad.pk and row["error"].startswith("DataError")
    page = admin_client.get("/admin/identity/stitchingfailure/")
    assert page.status_code == 200 and f">{bad.pk}<" in page.content.decode()

    # Fixed (the email rewritten), then resolved again from the admin.
    Touchpoint.objects.filter(pk=bad.pk).update(traits={"email": "p99@example.com"})
    answer = admin_client.post(
        "/admin/identity/stitchingfailure/",
        {"action": "resolve_again", "_selected_action": [StitchingFailure.objects.get().pk]},
        follow=True,
    )
    assert "1 resolved again, 0 failed again" in answer.content.decode()
    bad.refresh_from_db()
    assert bad.profile is not None and not StitchingFailure.objects.exists()
    assert retry_stitching_failures([]) == 0
