"""The tables of tracking plans: the plans, the sources that follow each, and the daily
counts of the violations found. Filed under the cdp app (their module is inside it):
`cdp.models` re-exports them, and the tables and migrations are cdp's."""

from django.db import models

from cdp.tracking_plans.engine.document import KINDS, MODES_BY_KIND, UNPLANNED_PROPERTY


def _mode_field(kind: str, help_text: str) -> models.CharField:
    return models.CharField(
        max_length=10,
        choices=[(mode, mode) for mode in MODES_BY_KIND[kind]],
        default="flag",
        help_text=help_text,
    )


class TrackingPlan(models.Model):
    """The events a source is expected to send, each with the JSON Schema of its
    payloads, and what to do with what breaks it. The file format and the checks are
    in cdp.tracking_plans.engine; write plans with cdp.tracking_plans.services only."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    unplanned_event_mode = _mode_field("unplanned_event", "An event the plan does not list.")
    unplanned_property_mode = _mode_field(
        UNPLANNED_PROPERTY, "A property the schema does not name (strip: store without it)."
    )
    missing_required_mode = _mode_field("missing_required", "A required property is absent.")
    wrong_type_mode = _mode_field("wrong_type", "A value of another JSON type.")
    out_of_range_mode = _mode_field(
        "out_of_range", "A value its schema refuses otherwise (enum, minimum, pattern, ...)."
    )
    # The rest of the plan file: context, identify_traits, group_traits and events, as
    # read by engine.document.read_plan (canonical, so the export is what was imported).
    rules = models.JSONField(default=dict)
    # SHA-256 of the canonical plan without its sources: which compiled plan ingestion uses.
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(**{f"{kind}_mode__in": MODES_BY_KIND[kind]}),
                name=f"tracking_plan_{kind}_mode_known",
            )
            for kind in KINDS
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def modes(self) -> dict[str, str]:
        return {kind: getattr(self, f"{kind}_mode") for kind in KINDS}


class TrackingPlanSource(models.Model):
    """A source follows at most one plan; a plan may be shared by several sources."""

    plan = models.ForeignKey(TrackingPlan, on_delete=models.CASCADE, related_name="source_links")
    source = models.OneToOneField(
        "cdp.Source", on_delete=models.CASCADE, related_name="tracking_plan_link"
    )

    def __str__(self) -> str:
        return f"{self.source} follows {self.plan}"


class PlanViolationCount(models.Model):
    """How many events broke their plan one way on one day: per source, event, property
    (where in the event), kind and what was done. Ingestion adds a batch's counts in one
    statement (cdp.tracking_plans.ingest), never a row per event; the latest sample of
    each is kept."""

    class Action(models.TextChoices):
        FLAGGED = "flagged", "stored and flagged"
        STRIPPED = "stripped", "stored without the unplanned properties"
        BLOCKED = "blocked", "rejected"

    day = models.DateField(help_text="The day the events were received (UTC).")
    # No database constraint: ingestion may still count for a plan deleted a moment ago
    # (cdp.tracking_plans.ingest keeps which plan a source follows for 2 s), and a count
    # must never fail the batch it comes with. Such a row joins no plan: nothing shows it.
    plan = models.ForeignKey(
        TrackingPlan,
        on_delete=models.CASCADE,
        related_name="violations",
        db_constraint=False,
    )
    source = models.ForeignKey(
        "cdp.Source", on_delete=models.CASCADE, related_name="plan_violations"
    )
    event_type = models.CharField(max_length=10)
    event_name = models.CharField(max_length=255, blank=True)
    property = models.CharField(
        max_length=255,
        help_text="Where in the event: properties.revenue, traits.email, "
        "properties.products[].price; `event` for an unplanned event.",
    )
    kind = models.CharField(max_length=30, choices=[(kind, kind) for kind in KINDS])
    action = models.CharField(max_length=10, choices=Action.choices)
    count = models.PositiveBigIntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    sample = models.JSONField(
        default=dict, help_text="The latest one: message id, the value (shortened), why."
    )

    class Meta:
        ordering = ["-day", "-count"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "plan",
                    "source",
                    "event_type",
                    "event_name",
                    "property",
                    "kind",
                    "action",
                ],
                name="plan_violation_one_row_per_day",
            )
        ]
        # A plan's violations since a day (the page, the API, the admin list).
        indexes = [models.Index(fields=["plan", "day"], name="plan_violations_by_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.event_name or self.event_type} {self.property} {self.kind}"
