"""The main job: the demo ingests a generated population and prints what was stored."""

import itertools
import re

import pytest
from django.core.management import call_command

from cdp.models import PlanViolationCount, Profile, RejectedEvent, Touchpoint, TrackingPlan
from identity.models import Identifier, MatchRun, MergeDecision

pytestmark = pytest.mark.django_db(transaction=True)


def figure(out: str, label: str) -> int:
    return int(re.search(rf"^{re.escape(label)}\s+(\d+)", out, re.MULTILINE).group(1))


def _scores(out: str, label: str) -> dict[str, float]:
    line = re.search(rf"^{label} vs ground truth \(\d+ ids\): (.+)$", out, re.M).group(1)
    return {name: float(value) for name, value in re.findall(r"(\w+) ([\d.]+)", line)}


def _untied_crm_rows(out: str) -> int:
    """CRM rows whose email is at the generator's old-ISP domain: the untied ones."""
    return Identifier.objects.filter(kind="email", value__endswith="@old-isp.example").count()


def test_demo_prints_the_figures_it_stored(capsys):
    call_command("demo", customers=25, seed=3)
    captured = capsys.readouterr()
    out = captured.out
    # Splink's warnings ("Level ... not observed in dataset, unable to train m value")
    # go to the log at debug level, not the terminal.
    assert "unable to train" not in out + captured.err
    assert figure(out, "touchpoints") == Touchpoint.objects.count() > 500
    assert figure(out, "profiles") == Profile.objects.filter(merged_into=None).count()
    assert figure(out, "rejected events kept") == RejectedEvent.objects.count() == 1
    assert figure(out, "touchpoints unresolved") == 0
    assert re.search(r"^stitching vs ground truth \(\d+ ids\): precision 1\.000", out, re.M)
    # The Splink step ran on what was stored, and says what it did (or why not).
    assert figure(out, "splink records compared") == MatchRun.objects.get().records > 0
    # The generator made CRM rows that no key ties to their person (a slip in the
    # surname, an old email, no phone): stitching leaves them apart, Splink merges them,
    # and nobody else, so recall rises and precision stays.
    untied = _untied_crm_rows(out)
    assert untied >= 1
    assert figure(out, "splink merges") >= untied
    before = _scores(out, "stitching")
    after = _scores(out, "with splink")
    assert after["precision"] == before["precision"] == 1.0
    assert after["recall"] > before["recall"]
    assert MergeDecision.objects.filter(method="splink").count() == figure(out, "splink merges")
    # Every page the demo fetched answered 200.
    pages = re.findall(r"^  (/app/\S*) +(\d{3}) ", out, re.M)
    assert len(pages) > 5 and {status for _, status in pages} == {"200"}, pages
    # The export's folder is gone when the demo ends: no path to it is printed.
    assert "omnitrail-demo-" not in out
    # Attribution: every model's credited revenue adds up to the conversions' value.
    value = float(re.search(r"conversion value\s+([\d.]+)", out).group(1))
    table = out.split("revenue credited by channel and model:\n")[1].splitlines()
    models = table[0].split()[1:]
    assert set(models) >= {"first_touch", "linear", "markov", "shapley"}
    rows = [
        line.split()[-len(models) :]
        for line in itertools.takewhile(lambda line: line.startswith("  "), table[1:])
    ]
    for column in range(len(models)):
        assert sum(float(row[column]) for row in rows) == pytest.approx(value, abs=0.01 * len(rows))
    # The tracking plan inferred from the website, in flag mode, and the drifted batch.
    plan = TrackingPlan.objects.get(name="web (inferred)")
    assert set(plan.modes.values()) == {"flag"}
    assert figure(out, "planned events") == len(plan.rules["events"]) > 5
    assert "drifted batch sent         4 events, 4 stored, 0 rejected" in out
    assert figure(out, "violations found") == 4
    assert sorted(PlanViolationCount.objects.values_list("event_name", "property", "kind")) == [
        ("Product Viewed", "properties.colour", "unplanned_property"),
        ("Product Viewed", "properties.price", "wrong_type"),
        ("Product Viewed", "properties.product_id", "missing_required"),
        ("Wishlist Shared", "event", "unplanned_event"),
    ]
    for kind in ("unplanned_property", "wrong_type", "missing_required", "unplanned_event"):
        assert re.search(rf"^  NEW .+ {kind} +1 flagged, e\.g\. ", out, re.M), kind
    assert re.search(r"^  /app/tracking-plans/ +200 ", out, re.M)
    # The predictive trait: trained and evaluated out of time, its figures as stored.
    from attribution.traits.models import PredictiveModel

    model = PredictiveModel.objects.get()
    auc = "n/a (one class only)" if model.auc is None else f"{model.auc:.3f}"
    assert f"likelihood to purchase in 30 days: AUC {auc} out of time" in out


def test_a_second_demo_without_reset_says_what_to_do():
    from django.core.management.base import CommandError

    call_command("demo", customers=5, seed=1)

    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", customers=5, seed=1)
    call_command("demo", customers=5, seed=1, reset=True)
