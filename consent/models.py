"""Consent: purposes, and the append-only history of what each customer allowed."""

from django.conf import settings
from django.db import models

from cdp.models import Profile, Source


class Purpose(models.Model):
    """A use of personal data a customer can allow or refuse (analytics, email marketing,
    ...), and how consent for it arrives from each channel."""

    class Default(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in: not allowed until granted"
        OPT_OUT = "opt_out", "Opt-out: allowed until denied"

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    default = models.CharField(max_length=10, choices=Default.choices, default=Default.OPT_IN)
    region_defaults = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per region (country code or "EU"): "opt_in" or "opt_out" instead of default.',
    )
    segment_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="Names in context.consent.categoryPreferences that stand for this purpose.",
    )
    consent_mode_signals = models.JSONField(
        default=list,
        blank=True,
        help_text="Google Consent Mode v2 signals that must all be granted (ad_storage, ...).",
    )
    tcf_purposes = models.JSONField(
        default=list,
        blank=True,
        help_text="IAB TCF v2.2 purpose ids that must all be consented to.",
    )

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class ConsentRecord(models.Model):
    """One statement of consent, never changed: a change is a new record; the current
    state is the latest one in force."""

    class Status(models.TextChoices):
        GRANTED = "granted"
        DENIED = "denied"
        WITHDRAWN = "withdrawn"

    class Channel(models.TextChoices):
        SEGMENT = "segment", "Segment payload (categoryPreferences)"
        TCF = "tcf", "IAB TCF v2.2 string"
        CONSENT_MODE = "consent_mode", "Google Consent Mode v2"
        API = "api", "REST API"
        IMPORT = "import", "File import"
        ADMIN = "admin", "Staff in the admin"

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="consents")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="records")
    status = models.CharField(max_length=10, choices=Status.choices)
    given_at = models.DateTimeField(help_text="When the customer said it.")
    expires_at = models.DateTimeField(null=True, blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    evidence = models.JSONField(
        default=dict,
        blank=True,
        help_text="What proves it: the TCF string, the Consent Mode signals, the form, the user.",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    touchpoint_id = models.BigIntegerField(
        null=True, blank=True, help_text="The event it came with, if any."
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-given_at", "-id"]
        indexes = [
            models.Index(fields=["profile", "purpose", "-given_at"], name="consent_current_state"),
        ]
        constraints = [
            # A touchpoint states each purpose once: re-resolving it records nothing new.
            models.UniqueConstraint(
                fields=["touchpoint_id", "purpose"],
                name="consent_once_per_touchpoint",
                condition=models.Q(touchpoint_id__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose.key} {self.status} for profile {self.profile_id}"


class DataSubjectRequest(models.Model):
    """A person's request to see (GDPR art. 15, CCPA right to know) or erase (art. 17,
    right to delete) everything held about them, found through one identifier."""

    class Kind(models.TextChoices):
        ACCESS = "access"
        ERASURE = "erasure"

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        NOT_FOUND = "not_found", "No profile has this identifier"
        FAILED = "failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    identifier = models.CharField(
        max_length=300,
        help_text="kind:value as given; after an erasure only its keyed hash is kept.",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_by = models.CharField(max_length=150, blank=True, help_text="Who or what ran it.")
    result = models.JSONField(
        default=dict,
        blank=True,
        help_text="Access: the bundle. Erasure: the proof (counts and hashes, no personal data).",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"{self.kind} request {self.pk} ({self.status})"


class SuppressedIdentifier(models.Model):
    """An identifier of an erased person, kept only as a keyed hash: events that carry
    it later are dropped at ingest and counted, never stored."""

    kind = models.CharField(max_length=40)
    value_hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of the value.")
    request = models.ForeignKey(DataSubjectRequest, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    events_dropped = models.PositiveIntegerField(default=0)
    last_dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value_hash"], name="suppressed_once")
        ]

    def __str__(self) -> str:
        return f"suppressed {self.kind} {self.value_hash[:12]}…"
