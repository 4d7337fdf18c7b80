"""Email: the campaigns, what each subscriber is sent, opens and clicks (email.ndjson),
and the website visits their links bring."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdp.site.demo.population.chance import new_uuid
from cdp.site.demo.population.clock import DAY, HOUR, MINUTE, SECOND, Clock
from cdp.site.demo.population.shop import SHOP_NAME, page_url
from cdp.site.demo.population.traffic import TrafficSource

if TYPE_CHECKING:
    from cdp.site.demo.population.costs import CampaignLedger
    from cdp.site.demo.population.devices import Device
    from cdp.site.demo.population.people import Person


@dataclass(frozen=True)
class EmailCampaign:
    """A broadcast (sent on its days to every subscriber) or a lifecycle email (triggered)."""

    name: str
    source: str  # utm_source of its links
    subject: str
    landing_path: str
    open_rate: float
    click_rate: float  # share of opens that click
    intent: float
    first_day: int | None = None  # None: triggered, not broadcast
    repeat_every: int = 0  # days between sends; 0: sent once
    sends: int | None = None  # None: repeats until the window ends
    loyalty_only: bool = False

    def send_days(self, days: int) -> list[int]:
        if self.first_day is None:
            return []
        if not self.repeat_every:
            return [self.first_day] if self.first_day < days else []
        count = self.sends if self.sends is not None else days
        return [
            day
            for day in range(self.first_day, days, self.repeat_every)
            if (day - self.first_day) // self.repeat_every < count
        ]


EMAIL_CAMPAIGNS = (
    EmailCampaign("weekly_newsletter", "newsletter", "This week on the trail: new arrivals inside",
                  "/collections/new-arrivals", 0.24, 0.13, 1.3, first_day=3, repeat_every=7),
    EmailCampaign("mid_season_sale", "newsletter", "Up to 30% off trail favourites, 72 hours only",
                  "/collections/sale", 0.30, 0.18, 1.8, first_day=20, repeat_every=3, sends=2),
    EmailCampaign("new_arrivals_drop", "newsletter", "Just landed: the fall collection",
                  "/collections/new-arrivals", 0.27, 0.14, 1.4, first_day=41),
    EmailCampaign("vip_early_access", "newsletter", "Members first: early access starts now",
                  "/collections/sale", 0.38, 0.20, 2.0, first_day=62, loyalty_only=True),
    EmailCampaign("welcome_series", "lifecycle", f"Welcome to {SHOP_NAME}", "/",
                  0.50, 0.16, 1.4),
    EmailCampaign("abandoned_cart", "lifecycle", "You left something in your cart", "/cart",
                  0.45, 0.30, 3.0),
)  # fmt: skip
WELCOME_EMAIL = EMAIL_CAMPAIGNS[4]
ABANDONED_CART_EMAIL = EMAIL_CAMPAIGNS[5]
EMAIL_LINKS = ("hero_banner", "product_grid", "cta_button", "footer_link")

BROADCAST_HOUR = 15  # UTC: late morning on the US east coast
EMAIL_CLICK_OPENS_SITE = 0.9  # the rest of the clicks are lost (blocked, closed tab, no browser)
UNSUBSCRIBE_PER_OPEN = 0.006
# Share of sends that bounce (a full mailbox, a dead address): drawn from the message's
# own seed, so the rest of the simulation's random stream is unchanged by it.
BOUNCE_PER_SEND = 0.015

WEBMAIL_REFERRERS = {
    "gmail.com": "https://mail.google.com/",
    "outlook.com": "https://outlook.live.com/",
    "hotmail.com": "https://outlook.live.com/",
    "hotmail.co.uk": "https://outlook.live.com/",
    "yahoo.com": "https://mail.yahoo.com/",
}


def email_traffic(campaign: EmailCampaign, person: Person, rng: random.Random) -> TrafficSource:
    webmail = WEBMAIL_REFERRERS.get(person.email.split("@")[1], "")
    return TrafficSource(
        channel="Email",
        referrer=webmail if rng.random() < 0.3 else "",
        source=campaign.source,
        medium="email",
        campaign=campaign.name,
        content=rng.choice(EMAIL_LINKS),
        landing_path=campaign.landing_path,
        intent=campaign.intent,
    )


class EmailMessages:
    """What one subscriber is sent and does with it: a part of PersonSimulation."""

    # Kept by PersonSimulation.
    person: Person
    rng: random.Random
    clock: Clock
    ledger: CampaignLedger
    email: list[tuple[int, dict]]

    if TYPE_CHECKING:  # PersonSimulation's and ConsentChoices' own, used here

        def note(self, source: str, kind: str, value: str | None) -> None: ...
        def schedule(self, t: int, action: Callable[..., None], *args: Any) -> None: ...
        def website_visit(
            self, t: int, device: Device, traffic: TrafficSource | None = None, cart: Any = None
        ) -> None: ...
        def consented(self, purpose: str, t: int) -> bool: ...
        def record_consent(
            self, t: int, purpose: str, status: str, source: str, *, user_id: str | None = None
        ) -> None: ...

    def send_email(self, t: int, campaign: EmailCampaign, email_id: str, cart=None) -> None:
        person, rng = self.person, self.rng
        if not self.consented("email_marketing", t):
            return
        if campaign.loyalty_only and not person.loyalty_id:
            return
        properties = {
            "campaign_name": campaign.name,
            "email_id": email_id,
            "subject": campaign.subject,
        }
        if random.Random(f"bounce:{email_id}:{person.user_id}").random() < BOUNCE_PER_SEND:
            self.email_event(t, "Email Bounced", properties)
            return
        self.email_event(t, "Email Delivered", properties)
        self.ledger.delivered[(t // DAY, campaign.name)] += 1
        if rng.random() >= campaign.open_rate:
            return
        opened_at = t + int(rng.expovariate(1 / (3 * HOUR)))
        if opened_at >= self.clock.end:
            return
        self.email_event(opened_at, "Email Opened", properties)
        if rng.random() < UNSUBSCRIBE_PER_OPEN:
            unsubscribed_at = opened_at + rng.randint(20 * SECOND, 2 * MINUTE)
            self.email_event(unsubscribed_at, "Unsubscribed", properties)
            self.record_consent(
                unsubscribed_at, "email_marketing", "withdrawn", "email_unsubscribe"
            )
            return
        if rng.random() >= campaign.click_rate:
            return
        clicked_at = opened_at + rng.randint(4 * SECOND, 90 * SECOND)
        if clicked_at >= self.clock.end:
            return
        traffic = email_traffic(campaign, person, rng)
        link_url = page_url(campaign.landing_path, traffic.query())
        self.email_event(clicked_at, "Email Link Clicked", {**properties, "link_url": link_url})
        self.ledger.clicks[(clicked_at // DAY, campaign.name)] += 1
        browsers = [device for device in person.devices if device.kind == "web"]
        if browsers and rng.random() < EMAIL_CLICK_OPENS_SITE:
            phones = [device for device in browsers if device.form == "mobile"]
            device = rng.choice(phones if phones and rng.random() < 0.6 else browsers)
            visit_at = clicked_at + rng.randint(1 * SECOND, 8 * SECOND)
            self.schedule(visit_at, self.website_visit, device, traffic, cart)

    def email_event(self, t: int, event: str, properties: dict) -> None:
        person = self.person
        message = {
            "type": "track",
            "event": event,
            "messageId": new_uuid(self.rng),
            "userId": person.user_id,
            "timestamp": self.clock.iso(t),
            "context": {"traits": {"email": person.email}},
            "properties": properties,
        }
        self.email.append((t, message))
        self.note("email", "user_id", person.user_id)
        self.note("email", "email", person.email)
