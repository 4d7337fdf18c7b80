"""Reads of the identity graph for other apps."""

from django.conf import settings
from django.db.models import QuerySet

from cdp.models import Profile
from identity.engine.normalize import normalize_identifier
from identity.models import Identifier


def identifiers_of_profile(profile: Profile) -> QuerySet[Identifier]:
    return Identifier.objects.filter(profile=profile).order_by("kind", "value")


def profile_ids_for_identifier(kind: str, value: str) -> QuerySet:
    normalized = normalize_identifier(
        kind, value, default_region=settings.OMNITRAIL_DEFAULT_PHONE_REGION
    )
    return Identifier.objects.filter(kind=kind, value=normalized or "").values("profile_id")
