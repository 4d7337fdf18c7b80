"""The purposes every install starts with (created after every migrate and flush, see
apps.py); staff change or add them in the admin."""

from __future__ import annotations

from typing import Any

PURPOSES: list[dict[str, Any]] = [
    {
        "key": "analytics",
        "name": "Analytics",
        "description": "Measuring visits, journeys and attribution.",
        "default": "opt_out",
        "region_defaults": {"EU": "opt_in", "GB": "opt_in"},
        "segment_categories": ["analytics", "performance"],
        "consent_mode_signals": ["analytics_storage"],
        "tcf_purposes": [1, 8, 9],
    },
    {
        "key": "ad_user_data",
        "name": "Advertising: sending user data to ad platforms",
        "description": "Audiences and conversions shared with Google, Meta and others.",
        "default": "opt_in",
        "region_defaults": {},
        "segment_categories": ["advertising", "marketing"],
        "consent_mode_signals": ["ad_storage", "ad_user_data"],
        "tcf_purposes": [1, 7],
    },
    {
        "key": "ad_personalization",
        "name": "Advertising: personalised ads",
        "description": "Remarketing and ads chosen for the person.",
        "default": "opt_in",
        "region_defaults": {},
        "segment_categories": ["advertising", "marketing"],
        "consent_mode_signals": ["ad_personalization"],
        "tcf_purposes": [3, 4],
    },
    {
        "key": "personalization",
        "name": "Personalisation",
        "description": "Content and offers chosen for the person on our own channels.",
        "default": "opt_out",
        "region_defaults": {"EU": "opt_in", "GB": "opt_in"},
        "segment_categories": ["personalization", "functional"],
        "consent_mode_signals": ["personalization_storage"],
        "tcf_purposes": [5, 6],
    },
    {
        "key": "email_marketing",
        "name": "Email marketing",
        "description": "Newsletters and promotional email.",
        "default": "opt_in",
        "region_defaults": {},
        "segment_categories": ["email"],
        "consent_mode_signals": [],
        "tcf_purposes": [],
    },
    {
        "key": "sms_marketing",
        "name": "SMS marketing",
        "description": "Promotional text messages.",
        "default": "opt_in",
        "region_defaults": {},
        "segment_categories": ["sms"],
        "consent_mode_signals": [],
        "tcf_purposes": [],
    },
]


def ensure_default_purposes(purpose_model=None) -> None:
    """Create the default purposes that are missing (after a flush, say); existing ones,
    as staff may have changed them, are left alone."""
    if purpose_model is None:
        from consent.models import Purpose as purpose_model
    for purpose in PURPOSES:
        purpose_model.objects.get_or_create(key=purpose["key"], defaults=purpose)
