"""The factories in tests/factories.py store rows the database takes, two side by side
where the model wants rows unique, with the defaults their docstrings promise."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

FACTORIES = [
    factories.SourceFactory,
    factories.ProfileFactory,
    factories.TouchpointFactory,
    factories.GoalFactory,
    factories.HoldoutFactory,
    factories.SegmentFactory,
    factories.MatchReviewFactory,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda factory: factory.__name__)
def test_a_factory_stores_a_row_and_another_beside_it(factory):
    first = factory()
    # One holdout per line and goal: the second holds out another channel.
    second = factory(value="Paid Search") if factory is factories.HoldoutFactory else factory()
    stored = factory._meta.model.objects.filter(pk__in=[first.pk, second.pk])
    assert stored.count() == 2


def test_the_defaults_are_the_documented_ones():
    touchpoint = factories.TouchpointFactory()
    assert touchpoint.profile is None and touchpoint.received_at == touchpoint.timestamp
    assert factories.GoalFactory(key="purchase").event == "Order Completed"
    holdout = factories.HoldoutFactory()
    assert (holdout.goal.key, holdout.value, holdout.percent) == ("purchase", "Email", 10.0)
