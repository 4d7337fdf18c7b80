"""The tables of computed traits: the definitions staff write in the admin and each
profile's value. Filed under the attribution app (attribution.models re-exports them)."""

from django.db import models


class ComputedTrait(models.Model):
    """A per-profile value computed from the profile's events: which events (name and
    property values), over which window, and what of them."""

    class Kind(models.TextChoices):
        COUNT = "count", "Event counter"
        SUM = "sum", "Sum of a property"
        AVERAGE = "average", "Average of a property"
        MIN = "min", "Minimum of a property"
        MAX = "max", "Maximum of a property"
        MOST_FREQUENT = "most_frequent", "Most frequent value of a property"
        FIRST = "first", "First value of a property"
        LAST = "last", "Last value of a property"
        UNIQUE = "unique", "Unique values of a property"
        UNIQUE_COUNT = "unique_count", "Number of unique values of a property"
        PREDICTED = "predicted", "Predicted: likelihood to purchase in the next 30 days"

    key = models.SlugField(
        max_length=60, unique=True, help_text='Used in segment rules: {"computed": "<key>", ...}.'
    )
    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    event = models.CharField(
        max_length=255,
        blank=True,
        help_text="The event name (track event or page name); empty: every event.",
    )
    where = models.JSONField(
        default=dict,
        blank=True,
        help_text='Property values the events must have, e.g. {"category": "Jackets"}.',
    )
    property = models.CharField(
        max_length=100, blank=True, help_text="The property read (every kind but the counter)."
    )
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only the last N days' events; empty: all time."
    )
    active = models.BooleanField(default=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["count", "predicted"]) | ~models.Q(property=""),
                name="computed_trait_property_unless_count",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ProfileTraitValue(models.Model):
    """A profile's value of a computed trait: `value` as shown (a number, a text, a list
    of unique values); `number` and `text` the forms segment rules compare."""

    # No index of their own (db_index=False): "trait_values_of_profile" is the profile's,
    # "one_value_per_trait" (trait, profile) the trait's; each one more index costs
    # every value written (a million profiles' first refresh writes millions). No
    # foreign-key constraint in the database either (db_constraint=False): PostgreSQL
    # checks one per row written, deferred to COMMIT, minutes for a first refresh of
    # millions of values. Deleting a profile or a trait through Django still deletes
    # its values (on_delete=CASCADE is Django's); a value left by a profile deleted
    # during a refresh goes at the next full refresh (it deletes what it did not compute).
    profile = models.ForeignKey(
        "cdp.Profile",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    trait = models.ForeignKey(
        ComputedTrait,
        on_delete=models.CASCADE,
        related_name="values",
        db_index=False,
        db_constraint=False,
    )
    value = models.JSONField(null=True)
    number = models.FloatField(null=True, blank=True)
    text = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trait", "profile"], name="one_value_per_trait")
        ]
        indexes = [
            models.Index(fields=["trait", "number"], name="trait_values_by_number"),
            models.Index(fields=["profile"], name="trait_values_of_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.trait_id} of {self.profile_id}: {self.value}"


class PredictiveModel(models.Model):
    """A trained likelihood-to-purchase model with its out-of-time evaluation: trained
    with the cutoff 60 days before the end of the history, its AUC and calibration
    measured on the 30 days after the later cutoff (attribution/traits/predictive.py)."""

    trait = models.ForeignKey(ComputedTrait, on_delete=models.CASCADE, related_name="models")
    trained_at = models.DateTimeField(auto_now_add=True)
    end = models.DateTimeField(help_text="The end of the history it learnt from.")
    train_cutoff = models.DateTimeField()
    eval_cutoff = models.DateTimeField()
    trained_on = models.PositiveIntegerField(help_text="Profiles in the training period.")
    evaluated_on = models.PositiveIntegerField(help_text="Profiles in the held-out period.")
    base_rate = models.FloatField(help_text="Share of them who bought in the held-out 30 days.")
    auc = models.FloatField(null=True, blank=True, help_text="ROC AUC on the held-out period.")
    brier = models.FloatField(help_text="Brier score on the held-out period (lower is better).")
    calibration = models.JSONField(
        default=list, help_text="Per fifth of the scores: profiles, mean predicted, observed."
    )
    coefficients = models.JSONField(default=dict, help_text="Standardised feature weights.")
    scored = models.PositiveIntegerField(default=0, help_text="Profiles given a score.")

    class Meta:
        get_latest_by = "trained_at"
        ordering = ["-trained_at", "-pk"]

    def __str__(self) -> str:
        auc = "n/a" if self.auc is None else f"{self.auc:.3f}"
        return f"{self.trait} model of {self.trained_at:%Y-%m-%d %H:%M} (AUC {auc})"
