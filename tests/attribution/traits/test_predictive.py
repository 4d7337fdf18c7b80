"""The likelihood to purchase in 30 days, evaluated out of time on a history whose
buyers are known: regulars buy every ten days, lapsed customers stopped 120 days ago,
browsers never buy. Trained with the cutoff 60 days ago, evaluated on the last 30 days
it never saw: every regular buys there and nobody else does."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from attribution.segments.services import refresh_segment, save_segment
from attribution.traits.models import PredictiveModel, ProfileTraitValue
from attribution.traits.scoring import model_in_words, train_purchase_likelihood
from consent.selectors import profile_by_identifier

NOW = timezone.now().replace(microsecond=0)


def at(days: int) -> str:
    return (NOW - timedelta(days=days)).isoformat().replace("+00:00", "Z")


def events(user, name, days_ago):
    kind = "page" if name == "page" else "track"
    for days in days_ago:
        message = {"type": kind, "userId": user, "timestamp": at(days)}
        if kind == "track":
            message |= {"event": name, "properties": {"revenue": 40}}
        yield message


@pytest.fixture
def history(deliver):
    batch = []
    for n in range(8):
        regular = range(95, 0, -10)  # 95, 85, ... 5 days ago
        batch += events(f"regular{n}", "Order Completed", regular)
        batch += events(f"regular{n}", "page", regular)
        batch += events(f"lapsed{n}", "Order Completed", (150, 120))
        batch += events(f"lapsed{n}", "page", (115,))
        batch += events(f"browser{n}", "page", (50, 20, 3))
    deliver(*batch)


def score(user):
    pk = profile_by_identifier(f"user_id:{user}").pk
    return ProfileTraitValue.objects.get(profile_id=pk, trait__key="purchase_30d").number


@pytest.mark.django_db
def test_out_of_time_auc_and_calibration_are_stored_with_the_model(history):
    stored = train_purchase_likelihood(end=NOW)
    # Trained on who was touched by 60 days ago (regulars and lapsed: 16), evaluated on
    # who was touched by 30 days ago (browsers too: 24), of whom the 8 regulars bought.
    assert (stored.trained_on, stored.evaluated_on) == (16, 24)
    assert stored.base_rate == round(8 / 24, 4)
    assert stored.auc == 1.0  # every regular ranks above every other profile
    assert sum(b["profiles"] for b in stored.calibration) == 24
    assert stored.calibration[-1]["observed"] == 1.0 and stored.calibration[0]["observed"] == 0
    assert (stored.eval_cutoff, stored.train_cutoff) == (
        NOW - timedelta(days=30),
        NOW - timedelta(days=60),
    )
    assert stored.scored == 24 and PredictiveModel.objects.count() == 1
    print(model_in_words(stored))  # the figure, for whoever runs the test with -s

    assert min(score(f"regular{n}") for n in range(8)) > max(
        score(f"{kind}{n}") for kind in ("lapsed", "browser") for n in range(8)
    )


@pytest.mark.django_db
def test_likely_buyers_are_a_segment(history):
    train_purchase_likelihood(end=NOW)
    likely = save_segment(
        name="Likely buyers", definition={"computed": "purchase_30d", "op": "gte", "value": 0.5}
    )
    refresh_segment(likely)
    members = set(
        likely.memberships.filter(exited_at__isnull=True).values_list("profile_id", flat=True)
    )
    assert members == {profile_by_identifier(f"user_id:regular{n}").pk for n in range(8)}


@pytest.mark.django_db
def test_the_command_prints_the_evaluation(history):
    out = StringIO()
    call_command("train_purchase_model", stdout=out)
    printed = out.getvalue()
    assert printed.startswith("likelihood to purchase in 30 days: AUC ")
    assert "profiles scored" in printed
