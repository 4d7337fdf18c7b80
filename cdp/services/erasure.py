"""Forgetting people: what cdp holds of them (profiles, touchpoints, rejected events,
the tracking-plan violation samples taken from their events)."""

from __future__ import annotations

import json
from collections.abc import Collection

from cdp.audit import forget_in_audit
from cdp.models import Profile, RejectedEvent, Touchpoint
from cdp.tracking_plans.services import forget_samples


def erase_profiles(profile_ids: Collection[int], values: Collection[str]) -> dict[str, int]:
    """Delete the profiles, their touchpoints, and the rejected events that mention any
    of `values` (their identifiers and names, compared without case); strip those values
    from the audit log's paths. Returns what was deleted or cleaned, per kind."""
    wanted = [value.lower() for value in values if value and len(value) >= 3]
    mentioning = [
        pk
        for pk, payload, raw_body in RejectedEvent.objects.values_list("pk", "payload", "raw_body")
        if any(
            value in text
            for text in (json.dumps(payload, ensure_ascii=False).lower(), raw_body.lower())
            for value in wanted
        )
    ]
    touchpoints = Touchpoint.objects.filter(profile_id__in=profile_ids)
    samples = forget_samples(
        message_ids=list(touchpoints.values_list("message_id", flat=True)), values=values
    )
    return {
        "audit_entries_cleaned": forget_in_audit(values),
        "plan_violation_samples": samples,
        "touchpoints": touchpoints.delete()[0],
        "rejected_events": RejectedEvent.objects.filter(pk__in=mentioning).delete()[0],
        "profiles": Profile.objects.filter(pk__in=profile_ids).delete()[1].get("cdp.Profile", 0),
    }


def profile_texts(profile_ids: Collection[int]) -> list[str]:
    """The string trait values of these profiles (names, emails...), for finding what
    mentions them."""
    return [
        value
        for traits in Profile.objects.filter(pk__in=profile_ids).values_list("traits", flat=True)
        for value in (traits or {}).values()
        if isinstance(value, str)
    ]
