"""Attribution: conversion goals, costs, and the runs that credit channels and campaigns.
The segments and activation tables are in attribution/segments/models.py."""

from django.db import models

from attribution.segments.models import (
    Delivery,
    DeliveryEvent,
    Destination,
    DestinationMember,
    Export,
    FactsModel,
    ProfileChannel,
    ProfileFacts,
    Segment,
    SegmentMembership,
)
from attribution.streams.models import StreamBatch, StreamDestination
from attribution.traits.models import ComputedTrait, ProfileTraitValue


class Goal(models.Model):
    """What counts as a conversion, what it is worth, and how far back touches count."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    event = models.CharField(max_length=255, help_text="The event name, e.g. Order Completed.")
    value_property = models.CharField(
        max_length=100, default="revenue", help_text="The property holding the value."
    )
    lookback_days = models.PositiveIntegerField(default=30)
    count_repeat = models.BooleanField(
        default=True, help_text="Every conversion counts, not only a profile's first."
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class Cost(models.Model):
    """What a channel and campaign cost on one day."""

    date = models.DateField()
    channel = models.CharField(max_length=50)
    campaign = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=255, blank=True)
    medium = models.CharField(max_length=255, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    impressions = models.PositiveBigIntegerField(null=True, blank=True)
    clicks = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["date", "channel", "campaign", "source", "medium"],
                name="cost_once_per_day_and_line",
            )
        ]
        indexes = [models.Index(fields=["channel", "campaign", "date"], name="cost_by_line")]

    def __str__(self) -> str:
        return f"{self.date} {self.channel} {self.campaign}: {self.cost} {self.currency}"


class AttributionRun(models.Model):
    """One computation of every model for one goal over a period, kept with its
    parameters so that its reports can be reproduced."""

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="runs")
    models_run = models.JSONField(default=list)
    parameters = models.JSONField(default=dict, help_text="Lookback, period, own domains ...")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    journeys = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    value = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    profiles_left_out_for_consent = models.PositiveIntegerField(default=0)
    summary = models.JSONField(
        default=dict,
        blank=True,
        help_text="Path reports: top paths, path lengths, time to convert, assisted conversions.",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("view_reports", "Can see the report pages under /app/")]

    def __str__(self) -> str:
        return f"{self.goal.key} run {self.pk} ({self.status})"


class Credit(models.Model):
    """What one model credited to one channel and campaign in one run."""

    run = models.ForeignKey(AttributionRun, on_delete=models.CASCADE, related_name="credits")
    model = models.CharField(max_length=30)
    channel = models.CharField(max_length=50)
    campaign = models.CharField(max_length=255, blank=True)
    conversions = models.FloatField()
    value = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["run", "model"], name="credit_by_run_model")]

    def __str__(self) -> str:
        return f"{self.model} {self.channel}/{self.campaign}: {self.conversions:.2f}"


class ChannelRule(models.Model):
    """One channel-grouping rule: tried in `position` order, the first that matches wins.
    The defaults (GA4's grouping) are created after every migrate while the table is
    empty; staff add, edit, disable and reorder them here."""

    position = models.PositiveIntegerField(default=0, db_index=True)
    channel = models.CharField(max_length=50)
    conditions = models.JSONField(
        help_text='All must hold, e.g. [{"field": "medium", "op": "equals", "value": "email"}]. '
        "Fields: source_kind, source, medium, campaign, referrer_domain, source_category, "
        "click_id, event. Operators: equals, in, matches (regular expression), present, absent."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.channel}"


class FunnelStage(models.Model):
    """A stage of the marketing funnel (awareness → decision) and the events that show a
    profile reached it."""

    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=50, unique=True)
    events = models.JSONField(
        default=list, help_text='Event names, e.g. ["Product Viewed"]; "page" counts page views.'
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Holdout(models.Model):
    """An incrementality experiment: a stable share of profiles is held out of a channel
    or campaign (chosen by a hash of the profile id, so a profile stays in its group)."""

    class Scope(models.TextChoices):
        CHANNEL = "channel"
        CAMPAIGN = "campaign"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    value = models.CharField(max_length=255, help_text="The channel or campaign name.")
    percent = models.FloatField(default=10.0, help_text="Share of profiles held out (0-100).")
    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="holdouts")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "value", "goal"], name="one_holdout_per_line")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.percent:g}% held out)"

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.value}"


__all__ = [
    "AttributionRun",
    "ChannelRule",
    "Cost",
    "Credit",
    "Delivery",
    "DeliveryEvent",
    "Destination",
    "DestinationMember",
    "Export",
    "FactsModel",
    "FunnelStage",
    "Goal",
    "Holdout",
    "ProfileChannel",
    "ProfileFacts",
    "Segment",
    "SegmentMembership",
    "StreamBatch",
    "ComputedTrait",
    "ProfileTraitValue",
    "StreamDestination",
]
