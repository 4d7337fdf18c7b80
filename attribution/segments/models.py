"""The tables of segments and activation: profile facts (what segment rules read), the
segments and their members' stays, and the destinations they are sent to with what was
sent. Filed under the attribution app (their module is inside it): `attribution.models`
re-exports them, and the tables and migrations are the app's as before."""

from django.core.exceptions import ValidationError
from django.db import models

from cdp.errors import InvalidField


class ProfileFacts(models.Model):
    """What attribution knows about one active profile, for segment rules: channels,
    value, RFM, persona, best time to contact. Recomputed by `refresh_facts`
    (all profiles) and for the changed profiles only after each change."""

    profile = models.OneToOneField("cdp.Profile", on_delete=models.CASCADE, related_name="facts")
    first_touch_channel = models.CharField(max_length=50, blank=True, db_index=True)
    last_touch_channel = models.CharField(max_length=50, blank=True)
    last_touch_campaign = models.CharField(max_length=255, blank=True)
    channel_count = models.PositiveIntegerField(default=0)
    total_revenue = models.FloatField(default=0)
    order_count = models.PositiveIntegerField(default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    clv = models.FloatField(default=0, help_text="Revenue to date plus the next 12 months'.")
    recency_score = models.PositiveSmallIntegerField(default=0)
    frequency_score = models.PositiveSmallIntegerField(default=0)
    monetary_score = models.PositiveSmallIntegerField(default=0)
    rfm_score = models.PositiveSmallIntegerField(
        default=0, help_text="R+F+M, 3-15 for buyers, 0 for who never bought."
    )
    persona = models.CharField(max_length=100, blank=True)
    best_hour_of_week = models.SmallIntegerField(
        null=True, blank=True, help_text="0 = Monday 00:00-01:00 UTC ... 167 = Sunday 23:00."
    )
    best_contact_channel = models.CharField(max_length=50, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"facts of profile {self.profile_id}"


class ProfileChannel(models.Model):
    """A channel a profile was seen on (for "channels seen" rules)."""

    profile = models.ForeignKey("cdp.Profile", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=50)
    touches = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "channel"], name="one_row_per_channel")
        ]
        indexes = [models.Index(fields=["channel", "profile"], name="profiles_by_channel")]

    def __str__(self) -> str:
        return f"{self.profile_id} on {self.channel}"


class FactsModel(models.Model):
    """What the last full facts refresh learnt from the whole population and applies to
    the profiles refreshed one by one until the next: RFM quintile edges and personas."""

    computed_at = models.DateTimeField(auto_now_add=True)
    rfm_edges = models.JSONField(default=dict)
    personas = models.JSONField(default=list, help_text="Label, description, centre, size.")
    features = models.JSONField(default=dict, help_text="Feature names and their scaling.")

    class Meta:
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"facts model of {self.computed_at:%Y-%m-%d %H:%M}"


class Segment(models.Model):
    """An audience: rules over traits, events, channels, value, other segments; its
    members are kept with when they entered and left."""

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    definition = models.JSONField(
        default=dict, help_text="The rules (see docs/segments.md): all / any / not groups."
    )
    purpose = models.ForeignKey(
        "consent.Purpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="What the segment will be used for: only profiles that consented to it "
        "are members.",
    )
    refresh_minutes = models.PositiveIntegerField(
        default=60, help_text="How often the whole segment is recomputed."
    )
    template = models.CharField(max_length=50, blank=True)
    active = models.BooleanField(default=True)
    size = models.PositiveIntegerField(default=0)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """A stay of a profile in a segment: open while exited_at is empty."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    profile = models.ForeignKey("cdp.Profile", on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["segment", "exited_at"], name="membership_current"),
            # Size over time on the segment page: entries per day.
            models.Index(fields=["segment", "entered_at"], name="membership_entries"),
            models.Index(fields=["profile", "segment"], name="membership_of_profile"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "profile"],
                condition=models.Q(exited_at__isnull=True),
                name="one_open_membership",
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} in {self.segment_id} from {self.entered_at:%Y-%m-%d}"


class Destination(models.Model):
    """Where a segment is sent: a file (CSV or NDJSON of its current members), a
    webhook (entered / exited events, signed), or an ad platform's hashed audience file
    (Google Ads Customer Match, Meta Custom Audiences: full, then added / removed).
    Only profiles that consented to the destination's purpose (and, for an ad platform,
    to ad_user_data and ad_personalization) are sent."""

    class Kind(models.TextChoices):
        FILE = "file"
        WEBHOOK = "webhook"
        GOOGLE_ADS = "google_ads", "Google Ads Customer Match"
        META_ADS = "meta_ads", "Meta Custom Audiences"

    class Format(models.TextChoices):
        CSV = "csv"
        NDJSON = "ndjson"

    name = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    segments = models.ManyToManyField(Segment, related_name="destinations")
    purpose = models.ForeignKey(
        "consent.Purpose",
        on_delete=models.PROTECT,
        help_text="The consent purpose this destination needs (advertising for ad platforms, "
        "email_marketing for an email tool ...).",
    )
    channel = models.CharField(
        max_length=50,
        blank=True,
        help_text="The marketing channel this destination sends through (e.g. Email): "
        "profiles a running holdout keeps out of that channel are not sent.",
    )
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.CSV)
    path = models.CharField(
        max_length=500,
        blank=True,
        help_text="File and ad platforms: the folder exports are written to.",
    )
    url = models.URLField(blank=True, help_text="Webhook: where events are POSTed.")
    secret = models.CharField(
        max_length=200, blank=True, help_text="Webhook: the HMAC-SHA256 signing key."
    )
    max_attempts = models.PositiveSmallIntegerField(default=6)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from attribution.segments.destinations import export_folder

        if self.kind in (self.Kind.FILE, self.Kind.GOOGLE_ADS, self.Kind.META_ADS):
            try:
                export_folder(self.path)
            except InvalidField as error:
                raise ValidationError({"path": error.message}) from None


class Delivery(models.Model):
    """One batch of entered / exited events for a webhook, with its attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries"
    )
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    left_out_for_consent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} to {self.destination} ({self.status})"


class DeliveryEvent(models.Model):
    """An entered / exited event in a delivery (deleted with the profile on erasure)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    profile = models.ForeignKey("cdp.Profile", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10)  # entered | exited
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.profile_id}"


class Export(models.Model):
    """A file written for a destination: how many rows, how many left out for consent.
    For an ad platform a delivery: the full audience, or the added (`path`) and removed
    (`removed_path`) since the previous delivery."""

    class Mode(models.TextChoices):
        FULL = "full", "Full audience"
        DELTA = "delta", "Added and removed since the last delivery"

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="exports")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="exports")
    created_at = models.DateTimeField(auto_now_add=True)
    path = models.CharField(max_length=500)
    rows = models.PositiveIntegerField()
    left_out_for_consent = models.PositiveIntegerField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.FULL)
    removed_path = models.CharField(
        max_length=500, blank=True, help_text="Delta: the file of those to remove."
    )
    removed = models.PositiveIntegerField(default=0, help_text="Delta: rows to remove.")
    left_out_by_purpose = models.JSONField(
        default=dict, blank=True, help_text="Members each required purpose left out."
    )
    unmatchable = models.PositiveIntegerField(
        default=0, help_text="Consenting members with no identifier the platform matches on."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.path


class DestinationMember(models.Model):
    """A profile a destination was last told is in a segment (an entered event sent and
    no exited since): what the next events are computed against."""

    # An audience delivery records every member given (hundreds of thousands at a time),
    # so, as for trait values: no index of their own for the destination and the segment
    # (the unique (destination, segment, profile) index leads with them), and no
    # foreign-key constraints in the database (PostgreSQL checks three per row written,
    # deferred to COMMIT). Deleting a destination, a segment or a profile through Django
    # still deletes these rows (on_delete=CASCADE is Django's).
    destination = models.ForeignKey(
        Destination,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    profile = models.ForeignKey(
        "cdp.Profile", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "segment", "profile"], name="one_delivered_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} sent to {self.destination_id}"
