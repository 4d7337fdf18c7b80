"""The main job: the demo ingests a generated population and prints what was stored."""

import re

import pytest
from django.core.management import call_command

from cdp.models import Profile, RejectedEvent, Touchpoint

pytestmark = pytest.mark.django_db(transaction=True)


def figure(out: str, label: str) -> int:
    return int(re.search(rf"^{re.escape(label)}\s+(\d+)", out, re.MULTILINE).group(1))


def test_demo_prints_the_figures_it_stored(capsys):
    call_command("demo", customers=25, seed=3)
    out = capsys.readouterr().out
    assert figure(out, "touchpoints") == Touchpoint.objects.count() > 500
    assert figure(out, "profiles") == Profile.objects.filter(merged_into=None).count()
    assert figure(out, "rejected events kept") == RejectedEvent.objects.count() == 1
    assert figure(out, "touchpoints unresolved") == 0
    assert re.search(r"vs ground truth \(\d+ ids\): precision 1\.000", out)
