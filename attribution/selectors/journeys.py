"""Journeys out of the stored touchpoints, for the attribution models.

A journey is the ordered touches of one profile inside the lookback window strictly
before a conversion (and after the profile's previous conversion), ending at that
conversion; the conversion event itself is not a touch. Touches are page and screen
views (their channel from UTM, referrer and click ids; Direct when they carry none) and
marketing events (emails opened or clicked, pushes opened, ads clicked). The touches
after a profile's last conversion are its non-converting journey. Only profiles whose
analytics consent allows it are read; the others are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Q

from attribution.engine.channels import classify, touch_fields
from attribution.engine.journeys import Journeys
from attribution.selectors.channels import channel_rules
from cdp.models import Profile, Touchpoint
from consent.policy import allowed_profiles

MARKETING_EVENTS = (
    "Email Opened",
    "Email Link Clicked",
    "Push Notification Opened",
    "Ad Clicked",
    "SMS Link Clicked",
)
DIRECT = "Direct"
# A view with nothing marketing about it this soon after the previous touch continues
# that visit (GA4's session timeout): the visit's channel is where it began.
SESSION_TIMEOUT = timedelta(minutes=30)


@dataclass
class JourneySet:
    journeys: Journeys
    campaigns: list[str]  # per touch: utm_campaign ("" when none)
    profiles_used: int
    profiles_left_out_for_consent: int
    conversions_without_touch: int  # credited to a Direct touch at the conversion


def _value(revenue, properties, value_property: str) -> float:
    if value_property == "revenue":
        return float(revenue or 0)
    raw = (properties or {}).get(value_property)
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0


def journeys_for_goal(
    *,
    event: str = "Order Completed",
    lookback: timedelta = timedelta(days=30),
    until: datetime | None = None,
    own_domains: Sequence[str] | None = None,
    value_property: str = "revenue",
    count_repeat: bool = True,
) -> JourneySet:
    """The journeys of every profile analytics may use, for conversions named `event`.
    A referrer on one of `own_domains` (default OMNITRAIL_OWN_DOMAINS) is the site
    itself, not a referral. A conversion is worth its `value_property` (the revenue
    column, or that event property); without `count_repeat` only a profile's first
    conversion counts and what follows it is ignored."""
    active = list(Profile.objects.filter(merged_into__isnull=True).values_list("pk", flat=True))
    allowed = allowed_profiles("analytics", active, at=until)
    rows = (
        Touchpoint.objects.filter(profile_id__in=allowed)
        .filter(Q(type__in=("page", "screen")) | Q(event__in=(*MARKETING_EVENTS, event)))
        .order_by("profile_id", "timestamp", "id")
        .values_list(
            "profile_id",
            "timestamp",
            "event",
            "source__kind",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "referrer",
            "page_url",
            "revenue",
            "properties",
        )
    )
    if until is not None:
        rows = rows.filter(timestamp__lte=until)
    rules = channel_rules()
    own = list(settings.OMNITRAIL_OWN_DOMAINS if own_domains is None else own_domains)
    paths: list[list[int]] = []
    ages: list[list[float]] = []
    campaigns: list[str] = []
    converted: list[bool] = []
    values: list[float] = []
    channels: dict[str, int] = {}
    no_touch = 0

    def channel_id(name: str) -> int:
        return channels.setdefault(name, len(channels))

    def close(pending, end: datetime, conversion: bool, value: float, own: int = -1) -> None:
        nonlocal no_touch
        # Strictly before a conversion; up to and including the last touch otherwise.
        window = [t for t in pending if end - lookback <= t[0] and (t[0] < end or not conversion)]
        if not window and not conversion:
            return
        if not window:  # no touch before it: the conversion's own channel (In-store, Direct)
            no_touch += 1
            window = [(end, own, "")]
        paths.append([c for _, c, _ in window])
        ages.append([(end - at).total_seconds() for at, _, _ in window])
        campaigns.extend(campaign for _, _, campaign in window)
        converted.append(conversion)
        values.append(value)

    current, pending, last_seen, last_touch = None, [], None, None
    done: int | None = None  # a profile whose first conversion is all that counts
    for (
        profile,
        at,
        name,
        source_kind,
        source,
        medium,
        campaign,
        ref,
        url,
        revenue,
        props,
    ) in rows.iterator(chunk_size=10_000):
        if profile == done:
            continue
        if profile != current:
            if current is not None and pending:
                close(pending, last_seen, False, 0.0)
            current, pending, last_touch = profile, [], None
        last_seen = at
        fields = touch_fields(
            source_kind=source_kind,
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign,
            referrer=ref,
            page_url=url,
            event=name,
            own_domains=own,
        )
        channel = classify(fields, rules)
        if name == event:
            close(pending, at, True, _value(revenue, props, value_property), channel_id(channel))
            pending = []
            if not count_repeat:
                done, current = profile, None
            continue
        continues_visit = last_touch is not None and at - last_touch < SESSION_TIMEOUT
        last_touch = at
        if channel == DIRECT and continues_visit:
            continue
        pending.append((at, channel_id(channel), campaign))
    if current is not None and pending:
        close(pending, last_seen, False, 0.0)

    names = tuple(sorted(channels, key=channels.get))
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    journeys = Journeys(
        channels=names,
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        touches=np.array([c for p in paths for c in p], dtype=np.int32),
        ages=np.array([a for journey in ages for a in journey], dtype=np.float64),
        converted=np.array(converted, dtype=bool),
        value=np.array(values, dtype=np.float64),
    )
    return JourneySet(
        journeys=journeys,
        campaigns=campaigns,
        profiles_used=len(allowed),
        profiles_left_out_for_consent=len(active) - len(allowed),
        conversions_without_touch=no_touch,
    )
