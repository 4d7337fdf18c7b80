"""The parts of ingestion the apps above cdp register (cdp.ingest_steps): in order, and
the suppression check never skipped."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from cdp import ingest_steps
from cdp.models import Touchpoint
from cdp.services.ingest import ingest_batch


def test_the_work_on_new_touchpoints_is_identity_then_consent_then_segments():
    steps = ingest_steps.touchpoint_work(1, ["m-1", "m-2"], ["m-2"])
    assert [(step.task, step.args) for step in steps] == [
        ("identity.tasks.resolve_new_touchpoints", (1, ["m-1", "m-2"])),
        ("consent.tasks.record_consents_of_touchpoints", (1, ["m-2"])),
        ("attribution.tasks.reevaluate_touchpoint_profiles", (1, ["m-1", "m-2"])),
    ]


def test_touchpoints_without_consent_skip_the_consent_step():
    steps = ingest_steps.touchpoint_work(1, ["m-1"], [])
    assert [step.task for step in steps] == [
        "identity.tasks.resolve_new_touchpoints",
        "attribution.tasks.reevaluate_touchpoint_profiles",
    ]


def test_nothing_is_stored_without_a_suppression_check(web_source, monkeypatch):
    source, _ = web_source
    monkeypatch.setattr(ingest_steps, "_suppression_checks", [])
    with pytest.raises(ImproperlyConfigured, match="no suppression check"):
        ingest_batch(source, [{"type": "track", "event": "Viewed", "userId": "ann"}])
    assert Touchpoint.objects.count() == 0


def test_unreadable_consent_is_left_out_and_named(web_source):
    source, _ = web_source
    event = {"type": "track", "event": "Viewed", "userId": "ann", "context": {"consent": 7}}
    result = ingest_batch(source, [event])
    assert result.accepted == 1
    assert [(w.code, w.field) for w in result.warnings] == [
        ("invalid_consent", "batch[0].context.consent")
    ]
    assert "consent" not in Touchpoint.objects.get().context
