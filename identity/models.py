"""The identity graph: identifiers, merge decisions and their evidence, the review queue."""

from django.db import models

from cdp.models import Profile


class Identifier(models.Model):
    """One normalised id of a person (kind + value), attached to exactly one profile."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        QUARANTINED = "quarantined", "Quarantined (seen on too many profiles; joins nothing)"

    kind = models.CharField(max_length=40)
    value = models.CharField(max_length=255)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identifiers")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identifier_unique_kind_value")
        ]
        indexes = [models.Index(fields=["profile", "kind"], name="identifier_by_profile")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class BlockedValue(models.Model):
    """A value never used to join profiles (test@test.com, a shared device id ...)."""

    kind = models.CharField(max_length=40, blank=True, help_text="Empty: any kind.")
    value = models.CharField(max_length=255, help_text="Compared after normalisation.")
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="blocked_value_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind or '*'}:{self.value}"


class Refusal(models.Model):
    """A join the guardrails refused, and why."""

    class Reason(models.TextChoices):
        LIMIT = "limit", "Per-kind identifier limit"
        BLOCKLIST = "blocklist", "Blocklisted value"
        QUARANTINE = "quarantine", "Quarantined identifier"
        UNMERGED = "unmerged", "Pair unmerged by staff"
        NAMES = "names", "Names differ (a household sharing a phone or email)"

    reason = models.CharField(max_length=20, choices=Reason.choices)
    kind = models.CharField(max_length=40)
    value = models.CharField(max_length=255)
    profiles = models.JSONField(default=list, help_text="The profiles it would have joined.")
    detail = models.TextField(blank=True)
    touchpoint_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"], name="refusal_by_identifier")]

    def __str__(self) -> str:
        return f"{self.reason} {self.kind}:{self.value}"


class MergeDecision(models.Model):
    """One profile merged into another, with the evidence, and what is needed to undo it."""

    class Method(models.TextChoices):
        IDENTIFIER = "identifier", "Shared identifier"
        SPLINK = "splink", "Splink match"
        MANUAL = "manual", "Staff decision"

    survivor = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    merged = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=20, choices=Method.choices)
    evidence = models.JSONField(
        default=dict, help_text="The identifier, or the match probability and field levels."
    )
    decided_by = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True)
    snapshot = models.JSONField(
        default=dict, help_text="The merged profile's identifiers, touchpoints and traits."
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["survivor"], name="merge_by_survivor"),
            models.Index(fields=["merged"], name="merge_by_merged"),
        ]

    def __str__(self) -> str:
        return f"{self.merged_id} → {self.survivor_id} ({self.method})"


class MergeBlock(models.Model):
    """A pair of profiles staff separated (or a review rejected): never joined again."""

    low = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["low", "high"], name="merge_block_unique_pair"),
            models.CheckConstraint(
                condition=models.Q(low__lt=models.F("high")), name="merge_block_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"never merge {self.low_id} and {self.high_id}"


class MatchModel(models.Model):
    """A trained Splink model (its JSON), versioned; the newest active one is used."""

    version = models.PositiveIntegerField(unique=True)
    model = models.JSONField()
    trained_at = models.DateTimeField(auto_now_add=True)
    records = models.PositiveIntegerField(help_text="Profiles it was trained on.")
    active = models.BooleanField(default=True)
    training = models.JSONField(
        default=dict,
        blank=True,
        help_text="How it was trained: the rules that estimated the prior (strict or looser), "
        "the pairs they found, the assumed recall, the blocks of the EM passes.",
    )

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Splink model v{self.version}"


class MatchRun(models.Model):
    """One Splink run, full or incremental, with what it found."""

    class Mode(models.TextChoices):
        FULL = "full"
        INCREMENTAL = "incremental"

    mode = models.CharField(max_length=20, choices=Mode.choices)
    model = models.ForeignKey(MatchModel, null=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(
        default=0, help_text="Source records scored (new ones only, in an incremental run)."
    )
    comparisons = models.PositiveBigIntegerField(
        default=0, help_text="Pairs the blocking rules brought together and the model scored."
    )
    pairs_scored = models.PositiveIntegerField(
        default=0, help_text="Pairs scoring at least the review threshold."
    )
    merges = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, help_text="Why the run matched nothing, if it was skipped.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.mode} match run at {self.started_at:%Y-%m-%d %H:%M}"


class MatchReview(models.Model):
    """A borderline Splink pair, between the review and merge thresholds, for staff."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    left = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    match_probability = models.FloatField()
    levels = models.JSONField(default=dict, help_text="Comparison level per field.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    run = models.ForeignKey(MatchRun, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="match_review_unique_pair")
        ]
        indexes = [models.Index(fields=["status", "-match_probability"], name="review_queue")]

    def __str__(self) -> str:
        return f"{self.left_id} ~ {self.right_id} ({self.match_probability:.3f}, {self.status})"


class StitchingFailure(models.Model):
    """A touchpoint stitching could not place (a value the database refused, say): set
    aside with its error so that the rest of its batch, and every later batch, is
    resolved. Resolving it again (admin action) retries it once the cause is fixed."""

    touchpoint_id = models.BigIntegerField(unique=True)
    error = models.TextField(help_text="The error's type and message.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"touchpoint {self.touchpoint_id}: {self.error[:60]}"
