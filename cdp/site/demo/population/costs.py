"""Ad costs (ad_costs.csv): per day and campaign, derived from the visits and emails
the simulation produced, so spend and clicks agree with the events."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from cdp.site.demo.population.clock import Clock
from cdp.site.demo.population.emails import EMAIL_CAMPAIGNS
from cdp.site.demo.population.shop import CURRENCY
from cdp.site.demo.population.traffic import PAID_CAMPAIGNS

EMAIL_COST_PER_SEND = 0.0015  # the email platform's price per delivered email, USD


class CampaignLedger:
    """Per day and campaign: tracked clicks, email deliveries and attributed revenue.

    Bounded by days × campaigns whatever the population, it is what ad_costs.csv is
    derived from, so spend and clicks agree with the visits in web.ndjson.
    """

    def __init__(self):
        self.clicks: Counter = Counter()
        self.delivered: Counter = Counter()
        self.revenue: defaultdict = defaultdict(float)


def ad_cost_rows(ledger: CampaignLedger, clock: Clock, rng: random.Random):
    """One row per day per paid campaign, and per day per email campaign that was sent."""
    for day, date in enumerate(clock.dates):
        for campaign in PAID_CAMPAIGNS:
            tracked = ledger.clicks[(day, campaign.name)]
            # Ad platforms count more clicks than arrive: blockers, bounces before the tag loads.
            clicks = tracked + round(tracked * rng.uniform(0.05, 0.25))
            ctr = campaign.click_through_rate * rng.uniform(0.8, 1.25)
            impressions = round(max(clicks, rng.uniform(0.3, 1.0)) / ctr)
            if campaign.pricing == "cpc":
                cost = clicks * campaign.price * rng.uniform(0.85, 1.15)
            elif campaign.pricing == "cpm":
                cost = impressions / 1000 * campaign.price * rng.uniform(0.9, 1.1)
            else:
                cost = ledger.revenue[(day, campaign.name)] * campaign.price
            yield [
                date,
                campaign.channel,
                campaign.source,
                campaign.medium,
                campaign.name,
                f"{cost:.2f}",
                CURRENCY,
                impressions,
                clicks,
            ]
        for email in EMAIL_CAMPAIGNS:
            delivered = ledger.delivered[(day, email.name)]
            if delivered:
                yield [
                    date,
                    "Email",
                    email.source,
                    "email",
                    email.name,
                    f"{delivered * EMAIL_COST_PER_SEND:.2f}",
                    CURRENCY,
                    delivered,
                    ledger.clicks[(day, email.name)],
                ]
