"""Model factories (factory_boy) for the rows a test builds by hand: each makes a valid
row with the fewest fields set, so a test names only the fields its assertions read.

Rows a real service makes are made through that service instead (touchpoints through
ingest with the `deliver` fixture, sources with their write key by `create_source`,
attribution runs by `refresh_attribution`): a factory stands in for a service only where
the test is about what reads the row.
"""

import hashlib
from datetime import UTC, datetime

import factory
from factory.django import DjangoModelFactory

from attribution.models import Goal, Holdout, Segment
from cdp.models import Profile, Source, SourceKind, Touchpoint
from identity.models import MatchReview

AT = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


class SourceFactory(DjangoModelFactory):
    """A source whose write key nobody knows (use create_source to send events)."""

    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"source-{n}")
    kind = SourceKind.WEB
    write_key_hash = factory.Sequence(lambda n: hashlib.sha256(f"key-{n}".encode()).hexdigest())


class ProfileFactory(DjangoModelFactory):
    class Meta:
        model = Profile

    traits = factory.LazyFunction(dict)


class TouchpointFactory(DjangoModelFactory):
    """A track event of no one yet (not resolved), received when it happened."""

    class Meta:
        model = Touchpoint

    source = factory.SubFactory(SourceFactory)
    message_id = factory.Sequence(lambda n: f"m-{n}")
    type = "track"
    event = "Order Completed"
    timestamp = AT
    received_at = factory.SelfAttribute("timestamp")


class GoalFactory(DjangoModelFactory):
    """A goal by key; `GoalFactory(key="purchase")` is the default goal every install has."""

    class Meta:
        model = Goal
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"goal-{n}")
    name = factory.LazyAttribute(lambda goal: goal.key.replace("-", " ").title())
    event = "Order Completed"


class HoldoutFactory(DjangoModelFactory):
    """10% of email's audience held out of the purchase goal from `AT`."""

    class Meta:
        model = Holdout

    scope = Holdout.Scope.CHANNEL
    value = "Email"
    goal = factory.SubFactory(GoalFactory, key="purchase")
    started_at = AT


class SegmentFactory(DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    definition = factory.LazyFunction(lambda: {"channel": "Email"})


class MatchReviewFactory(DjangoModelFactory):
    """A pair the model was unsure of, waiting for a steward."""

    class Meta:
        model = MatchReview

    left = factory.SubFactory(ProfileFactory)
    right = factory.SubFactory(ProfileFactory)
    match_probability = 0.9
    levels = factory.LazyFunction(dict)


def report_reader(username: str):
    """A user holding the report pages' permission (attribution.view_reports), which the
    credit and report endpoints of the API need."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="attribution", codename="view_reports")
    )
    return user
