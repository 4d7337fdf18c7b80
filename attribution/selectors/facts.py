"""Reads of profile facts and of what the last full facts refresh learnt."""

from __future__ import annotations

from attribution.models import FactsModel, ProfileFacts


def personas() -> list[dict]:
    """The buyer personas of the last full facts refresh: label, description, size."""
    stored = FactsModel.objects.order_by("-computed_at", "-pk").first()
    if stored is None:
        return []
    return [{k: p[k] for k in ("label", "description", "size")} for p in stored.personas]


def facts_of_profiles(profile_ids) -> list[dict]:
    return list(ProfileFacts.objects.filter(profile_id__in=list(profile_ids)).values())
