"""One customer's part of attribution, for the 360° page: the channel of each of their
touchpoints, and what a run's rule-based models credit for their own conversions, read
from that one profile's stored touchpoints (never a run recomputed in a request)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings

from attribution.engine.channels import classify, touch_fields
from attribution.engine.heuristics import MODELS as PER_JOURNEY
from attribution.engine.journeys import channel_totals, cut_journeys
from attribution.models import AttributionRun
from attribution.selectors.channels import channel_rules
from attribution.selectors.journeys import touch_frame
from cdp.models import Touchpoint
from consent.policy import allowed_profiles

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def touchpoint_channels(
    touchpoints: list[Touchpoint], *, own_domains: list[str] | None = None
) -> list[str]:
    """The channel of each touchpoint, by the channel rules attribution classifies
    journeys with (the admin's rules, or the GA4 defaults). Touchpoints need their
    source loaded."""
    rules = channel_rules()
    own = list(settings.OMNITRAIL_OWN_DOMAINS if own_domains is None else own_domains)
    return [
        classify(
            touch_fields(
                source_kind=touchpoint.source.kind,
                utm_source=touchpoint.utm_source,
                utm_medium=touchpoint.utm_medium,
                utm_campaign=touchpoint.utm_campaign,
                referrer=touchpoint.referrer,
                page_url=touchpoint.page_url,
                event=touchpoint.event,
                own_domains=own,
            ),
            rules,
        )
        for touchpoint in touchpoints
    ]


@dataclass
class CustomerJourney:
    """One of the customer's converting journeys in an attribution run."""

    converted_at: datetime
    value: float
    channels: list[str]  # per touch, in time order
    campaigns: list[str]  # per touch ("" when none)


# The customer's most recent conversions whose journeys the page lists.
JOURNEYS_SHOWN = 20


@dataclass
class CustomerAttribution:
    """What an attribution run credited to channels for one customer's conversions."""

    run: AttributionRun
    models: list[str]  # the run's models that credit each journey on its own
    population_models: list[str]  # the run's models whose credit needs every journey
    allowed: bool  # analytics consent let the run use this customer
    conversions: int = 0
    value: float = 0.0
    journeys: list[CustomerJourney] = field(default_factory=list)  # the newest, newest first
    open_touches: int = 0  # touches since the last conversion (a journey still open)
    # Model -> channel -> (conversions, value) credited over all the customer's journeys.
    credits: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


def customer_attribution(
    profile_id: int, run: AttributionRun, *, journeys_shown: int = JOURNEYS_SHOWN
) -> CustomerAttribution:
    """This customer's journeys in `run`, and what each rule-based model of the run gave
    each channel for them: the run's own journey rules (goal event, lookback, repeat
    conversions, value, own domains, its end) applied to this one profile's stored
    touchpoints, so the figures add up to the profile's part of the run's credits.

    Runs store credits per channel and campaign, not per profile, and a run is never
    recomputed in a request: this reads one profile's touch rows (the profile timeline
    index). Markov and Shapley credit a journey by effects measured over every journey
    of the run, which the run does not store: they are listed, not computed."""
    parameters = run.parameters or {}
    until = (
        datetime.fromisoformat(parameters["until"]) if parameters.get("until") else run.started_at
    )
    event = parameters.get("event") or run.goal.event
    models = [name for name in run.models_run if name in PER_JOURNEY]
    population = [name for name in run.models_run if name not in PER_JOURNEY]
    found = CustomerAttribution(run, models, population, allowed=False)
    if profile_id not in allowed_profiles("analytics", [profile_id], at=until):
        return found
    found.allowed = True
    frame = touch_frame(
        profile_ids=[profile_id],
        until=until,
        events=[event],
        own_domains=parameters.get("own_domains"),
        value_property=parameters.get("value_property") or "revenue",
    )
    journeys, campaigns, _, ends = cut_journeys(
        frame,
        event=event,
        lookback=timedelta(days=parameters.get("lookback_days", run.goal.lookback_days)),
        count_repeat=parameters.get("count_repeat", True),
    )
    converting = np.flatnonzero(journeys.converted)
    found.conversions = len(converting)
    found.value = float(journeys.value[converting].sum())
    found.open_touches = int(journeys.lengths[~journeys.converted].sum())
    for name in models:
        conversions, value = channel_totals(journeys, PER_JOURNEY[name](journeys))
        found.credits[name] = {
            journeys.channels[c]: (float(conversions[c]), float(value[c]))
            for c in np.flatnonzero(conversions)
        }
    newest = converting[np.argsort(ends[converting], kind="stable")[::-1][:journeys_shown]]
    for i in newest:
        start, end = int(journeys.offsets[i]), int(journeys.offsets[i + 1])
        at = int(ends[i].astype("datetime64[us]").astype(np.int64))
        found.journeys.append(
            CustomerJourney(
                converted_at=_EPOCH + timedelta(microseconds=at),
                value=float(journeys.value[i]),
                channels=[journeys.channels[c] for c in journeys.touches[start:end]],
                campaigns=list(campaigns[start:end]),
            )
        )
    return found
