"""The tables of event streams: where touchpoints are forwarded, and the batches sent
there with their attempts. Filed under the attribution app (attribution.models
re-exports them)."""

from django.db import models


class StreamDestination(models.Model):
    """An HTTP endpoint that receives the touchpoints (Segment message format) of the
    chosen sources, event names and types, for the profiles whose consent allows the
    destination's purpose and whose events did not opt out of it in `integrations`."""

    name = models.CharField(max_length=150, unique=True)
    url = models.URLField(help_text="Where batches are POSTed.")
    secret = models.CharField(max_length=200, help_text="The HMAC-SHA256 signing key.")
    purpose = models.ForeignKey(
        "consent.Purpose",
        on_delete=models.PROTECT,
        help_text="Only events of profiles that allow this purpose are forwarded.",
    )
    integration_name = models.CharField(
        max_length=100,
        blank=True,
        help_text='The key events use in "integrations" to opt in or out of this '
        'destination (e.g. "Mixpanel"); the name when empty.',
    )
    sources = models.ManyToManyField(
        "cdp.Source", blank=True, related_name="+", help_text="Empty: every source."
    )
    event_names = models.JSONField(
        default=list,
        blank=True,
        help_text='Track event names, e.g. ["Order Completed"]; empty: all.',
    )
    types = models.JSONField(
        default=list, blank=True, help_text='Message types, e.g. ["track", "page"]; empty: all.'
    )
    batch_size = models.PositiveIntegerField(default=100)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    active = models.BooleanField(default=True)
    cursor = models.BigIntegerField(
        default=0, help_text="The last touchpoint id considered for forwarding."
    )
    forwarded = models.BigIntegerField(default=0, help_text="Events put in batches so far.")
    left_out_for_consent = models.BigIntegerField(
        default=0, help_text="Matching events held back: the profile's consent refused."
    )
    opted_out = models.BigIntegerField(
        default=0, help_text='Matching events held back by their own "integrations".'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class StreamBatch(models.Model):
    """Touchpoints sent (or to send) to a stream destination in one request. A batch out
    of attempts stays failed, with its last error: the dead-letter list."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed", "failed (dead letter)"

    destination = models.ForeignKey(
        StreamDestination, on_delete=models.CASCADE, related_name="batches"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    touchpoint_ids = models.JSONField(default=list)
    events = models.PositiveIntegerField(default=0)
    replay = models.CharField(
        max_length=100, blank=True, help_text="A replay: the range it re-sends."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "stream batches"
        indexes = [models.Index(fields=["destination", "status"], name="stream_batches_by_status")]

    def __str__(self) -> str:
        return f"batch {self.pk} to {self.destination} ({self.status})"
