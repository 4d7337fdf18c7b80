"""The core tables: sources, profiles, raw touchpoints, rejected events and the audit log."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from cdp.engine.columns import check_column_mapping
from cdp.errors import InvalidField

# The tracking-plan tables, filed under cdp from their own package.
from cdp.tracking_plans.models import (  # noqa: F401
    PlanViolationCount,
    TrackingPlan,
    TrackingPlanSource,
)


def hash_write_key(write_key: str) -> str:
    """Write keys are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(write_key.encode()).hexdigest()


class SourceKind(models.TextChoices):
    WEB = "web", "Website"
    APP = "app", "Mobile app"
    EMAIL = "email", "Email platform"
    ADS = "ads", "Ad platform"
    SOCIAL = "social", "Social platform"
    CRM = "crm", "CRM"
    POS = "pos", "In-store POS"
    SERVER = "server", "Server / back end"
    OTHER = "other", "Other"


class Source(models.Model):
    """An integration that sends data in, identified by its write key."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    write_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    write_key_prefix = models.CharField(
        max_length=8, editable=False, help_text="First characters of the key, to recognise it."
    )
    enabled = models.BooleanField(default=True)
    rate_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events per second before 429; empty means OMNITRAIL_DEFAULT_RATE_LIMIT.",
    )
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            "Web origins (https://shop.example.com) whose pages may send with this write "
            "key; a browser's request from any other origin gets 403. Empty: any origin."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    date_order = models.CharField(
        max_length=3,
        blank=True,
        choices=[("DMY", "day/month/year"), ("MDY", "month/day/year"), ("YMD", "year/month/day")],
        help_text="How this source writes ambiguous dates (03/04/1985); empty: the order of "
        "each record's country.",
    )
    column_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text='Its files\' column names for the standard traits, e.g. {"given_name": '
        '"first_name", "surname": "last_name"}; other columns stay custom traits.',
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        try:
            check_column_mapping(self.column_mapping)
        except InvalidField as error:
            raise ValidationError({"column_mapping": error.message}) from None


class Profile(models.Model):
    """One customer: the golden record of traits; identifiers live in the identity app."""

    traits = models.JSONField(default=dict, blank=True)
    trait_sources = models.JSONField(
        default=dict, blank=True, help_text="Per trait: the source, time and rule that chose it."
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_profiles",
        help_text="Set when this profile was merged into another; kept so it can be unmerged.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="profile_active", condition=models.Q(merged_into__isnull=True)
            )
        ]
        permissions = [
            ("view_customer_360", "Can open the 360° customer page (every view is audited)"),
            ("view_personal_data", "Can see raw personal data (traits, identifiers) in reports"),
        ]

    def __str__(self) -> str:
        return f"Profile {self.pk}"


class TouchpointType(models.TextChoices):
    TRACK = "track"
    IDENTIFY = "identify"
    PAGE = "page"
    SCREEN = "screen"
    ALIAS = "alias"
    GROUP = "group"


class Touchpoint(models.Model):
    """One raw event, as received. Append-only: only `profile` and `resolved_at` change later."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="touchpoints")
    message_id = models.CharField(max_length=255)
    type = models.CharField(max_length=10, choices=TouchpointType.choices)
    event = models.CharField(max_length=255, blank=True, help_text="Track event or page name.")
    anonymous_id = models.CharField(max_length=255, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    previous_id = models.CharField(max_length=255, blank=True, help_text="Alias: the old id.")
    group_id = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField(help_text="When it happened, corrected for clock skew.")
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # Columns lifted out of context for channel attribution and reports.
    utm_source = models.CharField(max_length=255, blank=True)
    utm_medium = models.CharField(max_length=255, blank=True)
    utm_campaign = models.CharField(max_length=255, blank=True)
    utm_term = models.CharField(max_length=255, blank=True)
    utm_content = models.CharField(max_length=255, blank=True)
    page_url = models.TextField(blank=True)
    referrer = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    device_id = models.CharField(max_length=255, blank=True)
    device_type = models.CharField(max_length=50, blank=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # From the user agent (cdp.engine.enrichment): ua-parser's families, crawlerdetect's bots.
    browser = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=100, blank=True)
    is_bot = models.BooleanField(
        default=False, help_text="Sent by a bot or crawler: left out of attribution by default."
    )
    extras = models.JSONField(
        default=dict,
        blank=True,
        help_text="The message's other top-level keys as sent: integrations, _metadata, channel…",
    )
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.SET_NULL, related_name="touchpoints"
    )
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When identity resolution last placed this touchpoint."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="touchpoint_unique_source_message"
            ),
        ]
        indexes = [
            # A profile's timeline, and "did this profile do E" for the profiles a batch
            # changed, answered from the index alone (incremental segment runs).
            models.Index(
                fields=["profile", "timestamp"], include=["event"], name="tp_profile_events"
            ),
            models.Index(fields=["timestamp"], name="tp_by_time"),
            # Covers "did E at least N times since D" counts (segments) without the table.
            models.Index(
                fields=["event", "timestamp"], include=["profile"], name="tp_event_time_profile"
            ),
            models.Index(
                fields=["id"],
                name="tp_unresolved",
                condition=models.Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event or ''} {self.message_id}".strip()


class RejectedEvent(models.Model):
    """An event or body we refused, kept with its reason so an operator can fix and resubmit."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESUBMITTED = "resubmitted"
        DISMISSED = "dismissed"

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="rejections"
    )
    payload = models.JSONField(
        null=True, blank=True, help_text="The event as received (edit it, then resubmit)."
    )
    raw_body = models.TextField(
        blank=True,
        help_text="The body when it was not JSON, cut to OMNITRAIL_REJECTED_BODY_BYTES.",
    )
    raw_body_encoding = models.CharField(
        max_length=10, blank=True, help_text="base64 when the body was not UTF-8 text."
    )
    body_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="The size of the whole body as received."
    )
    code = models.CharField(max_length=50)
    reason = models.TextField()
    index = models.IntegerField(null=True, blank=True, help_text="Position in the batch.")
    channel = models.CharField(max_length=20, default="http", help_text="http or import.")
    line = models.IntegerField(null=True, blank=True, help_text="Line number in an import file.")
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    resubmitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(fields=["status", "received_at"], name="rejected_open_by_time"),
            # The per-source quota of kept bodies counts the last hour's.
            models.Index(fields=["source", "received_at"], name="rejected_by_source_time"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.reason[:60]}"


class IngestCount(models.Model):
    """How often something was noted about a source's events: a warning (a time not
    believed, an amount not read, …), a bot's event, a rejected body not kept (over the
    quota). Operators read it in the admin and at /api/v1/sources/{id}/ingest-counts."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="ingest_counts")
    code = models.CharField(max_length=50)
    field = models.CharField(max_length=255, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["source", "code", "field"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "code", "field"], name="ingest_count_unique_source_code_field"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.code} {self.field}: {self.count}"


class AuditEntry(models.Model):
    """Who viewed, exported, changed or erased personal data, and when."""

    class Action(models.TextChoices):
        VIEW = "view"
        EXPORT = "export"
        CHANGE = "change"
        ERASE = "erase"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, help_text="Kept if the user is deleted.")
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100, blank=True)
    path = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # Created by the consent app, where the audit log began; the table kept its name.
        db_table = "consent_auditentry"
        ordering = ["-at"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_by_object")]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.object_type} {self.object_id}"
