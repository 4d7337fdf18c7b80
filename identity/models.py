"""The identity graph: identifiers and the profile each belongs to."""

from django.db import models

from cdp.models import Profile


class Identifier(models.Model):
    """One normalised id of a person (kind + value), attached to exactly one profile."""

    kind = models.CharField(max_length=40)
    value = models.CharField(max_length=255)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identifiers")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identifier_unique_kind_value")
        ]
        indexes = [models.Index(fields=["profile", "kind"], name="identifier_by_profile")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
