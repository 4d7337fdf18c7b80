"""Which profiles changed, for the incremental re-evaluation of their segments."""

from __future__ import annotations

from datetime import datetime

from cdp.selectors import profiles_with_touchpoints_resolved_since
from consent.selectors import profiles_with_consent_recorded_since
from identity.selectors import profiles_merged_or_unmerged_since


def profiles_changed_since(since: datetime) -> set[int]:
    """Profiles with a touchpoint placed, a merge or unmerge, or a consent record since
    `since` (merged-away profiles included: their memberships end)."""
    return (
        profiles_with_touchpoints_resolved_since(since)
        | profiles_merged_or_unmerged_since(since)
        | profiles_with_consent_recorded_since(since)
    )
