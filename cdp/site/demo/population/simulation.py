"""One person's window: everything they do, in time order, and the rows it leaves."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import defaultdict
from operator import itemgetter

from cdp.site.demo.population.chance import poisson
from cdp.site.demo.population.clock import DAY, HOUR, MINUTE, PICK_HOUR, Clock
from cdp.site.demo.population.consents import CHECKOUT_EMAIL_OPT_IN, ConsentChoices
from cdp.site.demo.population.costs import CampaignLedger
from cdp.site.demo.population.devices import MOBILE_NETWORKS, Device, ip_address
from cdp.site.demo.population.emails import (
    ABANDONED_CART_EMAIL,
    BROADCAST_HOUR,
    EMAIL_CAMPAIGNS,
    WELCOME_EMAIL,
    EmailMessages,
)
from cdp.site.demo.population.people import Person
from cdp.site.demo.population.sessions import AppSession, Session, WebVisit
from cdp.site.demo.population.shop import APP, PICK_PRODUCT, Product
from cdp.site.demo.population.stores import (
    RECEIPT_BY_EMAIL_SHARE,
    STORE_HOURS,
    STORE_VISITS_MEAN,
    StoreTrips,
)
from cdp.site.demo.population.traffic import (
    ORGANIC_TRAFFIC,
    PAID_CAMPAIGN_NAMES,
    PICK_CAMPAIGN,
    PICK_CHANNEL,
    TrafficSource,
    organic_traffic,
    paid_traffic,
)

# (name, first day, days between sends)
PUSH_CAMPAIGNS = (("weekend_flash_sale", 4, 7), ("back_in_stock", 11, 14))
PUSH_OPEN_RATE = 0.07

# Funnel: each stage given the one before. Adding to cart scales with the visit's intent.
FUNNEL_VIEW = 0.55
FUNNEL_ADD = 0.11
FUNNEL_CHECKOUT = 0.6
FUNNEL_ORDER = 0.65
MOBILE_WEB_INTENT = 0.75  # small screens convert worse
APP_INTENT = 1.3
WEB_SESSIONS_MEAN = 1.8  # per browser, besides the first
APP_SESSIONS_MEAN = 3.5  # per install, besides the first


class PersonSimulation(ConsentChoices, EmailMessages, StoreTrips):
    """Everything one person does in the window, in time order, and the rows it leaves.

    Visits, store trips, emails and pushes are queued by time; handling one may queue
    more (an email click opens a website visit, an abandoned cart triggers an email).
    What it does about consent, email and stores is in `consents`, `emails` and `stores`
    (the classes it is made of); the rest, visits to the website and the app, is here.
    """

    def __init__(
        self,
        person: Person,
        rng: random.Random,
        clock: Clock,
        ledger: CampaignLedger,
        crm_rows: list[list[str]],
    ):
        self.person = person
        self.rng = rng
        self.clock = clock
        self.ledger = ledger
        self.web: list[tuple[int, dict]] = []
        self.app: list[tuple[int, dict]] = []
        self.email: list[tuple[int, dict]] = []
        self.pos: list[tuple[int, list[str]]] = []
        self.consents: list[tuple[int, list[str]]] = []
        self.crm = crm_rows
        self.identifiers: dict[tuple[str, str, str], None] = {}  # an ordered set
        self.queue: list = []
        self.sequence = itertools.count()
        self.registered_at: int | None = None
        self.consent_history: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.viewed_products = False
        self.last_cart_reminder = -DAY * 365
        self.pos_opt_in_asked = False
        self.planned_visits = 0
        for record in crm_rows:
            crm_id, email, loyalty_id = record[0], record[3], record[11]
            self.note("crm", "crm_id", crm_id)
            self.note("crm", "email", email)
            self.note("crm", "loyalty_id", loyalty_id)

    # -- bookkeeping

    def note(self, source: str, kind: str, value: str | None) -> None:
        if value:
            self.identifiers[(source, kind, value)] = None

    def record_message(self, source: str, t: int, message: dict, device: Device) -> None:
        (self.web if source == "web" else self.app).append((t, message))
        self.note(source, "anonymous_id", device.anonymous_id)
        self.note(source, "device_id", device.device_id)
        self.note(source, "user_id", message.get("userId"))
        if message["type"] == "identify":
            self.note(source, "email", message["traits"].get("email"))

    def schedule(self, t: int, action, *args) -> None:
        if t < self.clock.end:
            heapq.heappush(self.queue, (t, next(self.sequence), action, args))

    def run(self) -> None:
        self.plan()
        while self.queue:
            t, _, action, args = heapq.heappop(self.queue)
            action(t, *args)
        for rows in (self.web, self.app, self.email, self.pos, self.consents):
            rows.sort(key=itemgetter(0))

    def moment(self, day: int, hour: int) -> int:
        """`hour` local time on `day`, at a random minute, in window time."""
        t = day * DAY + (hour - self.person.utc_offset) * HOUR + self.rng.randrange(HOUR)
        return t % self.clock.end

    def any_moment(self) -> int:
        return self.moment(self.rng.randrange(self.clock.days), PICK_HOUR.pick(self.rng))

    def session_ip(self, device: Device) -> str:
        if device.form in ("mobile", "ios", "android") and self.rng.random() < 0.5:
            return ip_address(self.rng, MOBILE_NETWORKS[self.person.country])
        return self.person.home_ip

    # -- the plan

    def plan(self) -> None:
        person, rng = self.person, self.rng
        for device in person.devices:
            mean = WEB_SESSIONS_MEAN if device.kind == "web" else APP_SESSIONS_MEAN
            visits = 1 + poisson(rng, mean * person.activity)
            self.planned_visits += visits
            action = self.website_visit if device.kind == "web" else self.app_session
            for _ in range(visits):
                self.schedule(self.any_moment(), action, device)
        if person.loyalty_id:
            store_trips = poisson(rng, STORE_VISITS_MEAN * person.activity)
        elif person.country == "US" and rng.random() < RECEIPT_BY_EMAIL_SHARE:
            store_trips = 1
        else:
            store_trips = 0
        for _ in range(store_trips):
            local_hour = rng.choice(STORE_HOURS)
            self.schedule(self.moment(rng.randrange(self.clock.days), local_hour), self.store_trip)

    def wants_to_sign_in(self, session: Session) -> bool:
        device = session.device
        if self.person.user_id is None or device.signed_in(session.t):
            return False
        if self.registered_at is None:
            # Everyone with an account signs in at some point: at the latest on their last visit.
            return self.planned_visits == 0 or self.rng.random() < 0.4
        return self.rng.random() < (0.55 if device.kind == "app" else 0.2)

    def account_traits(self) -> dict:
        person = self.person
        traits = {
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
        }
        if person.shares_phone:
            traits["phone"] = person.phone
        if self.registered_at is None and self.rng.random() < 0.3:
            traits["birthday"] = person.birthday
        return traits

    def signed_in(self, t: int, device: Device) -> None:
        """The first sign-in: the account's consents, then its marketing emails and pushes."""
        if self.registered_at is not None:
            self.registered_at = min(self.registered_at, t)
            return
        self.registered_at = t
        self.record_signup_consents(t, "app_signup" if device.kind == "app" else "web_signup")
        self.schedule(
            t + self.rng.randint(2 * MINUTE, 20 * MINUTE),
            self.send_email,
            WELCOME_EMAIL,
            "welcome_series-1",
        )
        for campaign in EMAIL_CAMPAIGNS:
            for day in campaign.send_days(self.clock.days):
                send_at = day * DAY + BROADCAST_HOUR * HOUR + self.rng.randrange(40 * MINUTE)
                if send_at > t:
                    email_id = f"{campaign.name}-{self.clock.dates[day].replace('-', '')}"
                    self.schedule(send_at, self.send_email, campaign, email_id)
        for app_device in self.person.devices:
            if app_device.kind == "app" and app_device.push_enabled:
                self.plan_pushes(t, app_device)

    def plan_pushes(self, after: int, device: Device) -> None:
        for name, first_day, every in PUSH_CAMPAIGNS:
            for day in range(first_day, self.clock.days, every):
                send_at = day * DAY + 17 * HOUR + self.rng.randrange(30 * MINUTE)
                if send_at > after and self.rng.random() < PUSH_OPEN_RATE:
                    opened_at = send_at + int(self.rng.expovariate(1 / (40 * MINUTE)))
                    self.schedule(opened_at, self.app_session, device, name)

    # -- website and app

    def website_visit(self, t: int, device: Device, traffic=None, cart=None) -> None:
        if traffic is None:
            self.planned_visits -= 1
            traffic = self.choose_traffic()
        visit = WebVisit(self, device, t, traffic)
        landing_product = visit.land()
        if not visit.open:
            return
        if traffic.campaign in PAID_CAMPAIGN_NAMES:
            self.ledger.clicks[(t // DAY, traffic.campaign)] += 1
        if self.wants_to_sign_in(visit):
            visit.log_in()
        intent = traffic.intent * (MOBILE_WEB_INTENT if device.form == "mobile" else 1.0)
        revenue = self.go_shopping(visit, intent, landing_product, cart)
        if revenue is not None and traffic.campaign in PAID_CAMPAIGN_NAMES:
            self.ledger.revenue[(visit.t // DAY, traffic.campaign)] += revenue

    def choose_traffic(self) -> TrafficSource:
        channel = PICK_CHANNEL.pick(self.rng)
        if channel in ORGANIC_TRAFFIC:
            return organic_traffic(channel, self.rng)
        campaign = PICK_CAMPAIGN[(channel, self.viewed_products)].pick(self.rng)
        return paid_traffic(campaign, self.rng)

    def app_session(self, t: int, device: Device, push_campaign: str | None = None) -> None:
        if push_campaign is None:
            self.planned_visits -= 1
        elif not device.signed_in(t):
            return  # pushes reach signed-in installs only
        session = AppSession(self, device, t)
        first = device.sessions == 0
        device.sessions += 1
        if first and device.new_install:
            session.track(
                "Application Installed", {"version": APP["version"], "build": APP["build"]}
            )
        if push_campaign:
            campaign = {"name": push_campaign, "source": "app", "medium": "push"}
            session.track("Push Notification Opened", {"campaign": campaign})
        session.track(
            "Application Opened",
            {"from_background": not first and self.rng.random() < 0.4, "version": APP["version"]},
        )
        session.screen("Home")
        if self.wants_to_sign_in(session):
            session.log_in()
        self.go_shopping(session, APP_INTENT, None, None)

    def go_shopping(
        self, session: Session, intent: float, seen: Product | None, cart
    ) -> float | None:
        """The funnel from browsing to an order; the order's revenue, if there is one.
        The steps draw from the seed in this order, so a seed gives the same people."""
        products = [seen] if seen else []
        # Whether the visitor looks at products at all does not depend on where they land.
        engaged = cart is None and self.rng.random() < FUNNEL_VIEW
        self.look_around(session, products, engaged=engaged, has_cart=cart is not None)
        if products:
            self.viewed_products = True
        if engaged and self.rng.random() < FUNNEL_ADD * intent * self.person.propensity:
            cart = self.fill_cart(session, products[-1])
        if not cart or not session.open:
            return None
        return self.check_out(session, cart)

    def look_around(
        self, session: Session, products: list[Product], *, engaged: bool, has_cart: bool
    ) -> None:
        """Browse, and when engaged (and not come for a product) view a few, adding them
        to `products`."""
        rng = self.rng
        if engaged and not products:
            if rng.random() < 0.5:
                session.browse()
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                product = PICK_PRODUCT.pick(rng)
                session.view_product(product)
                products.append(product)
        elif not has_cart:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                session.browse()

    def fill_cart(self, session: Session, product: Product) -> list[tuple[Product, int]]:
        """The last product viewed, sometimes with another one."""
        rng = self.rng
        cart = [(product, rng.choice((1, 1, 1, 2)))]
        if rng.random() < 0.3:
            cart.append((PICK_PRODUCT.pick(rng), 1))
        for item, quantity in cart:
            session.add_to_cart(item, quantity)
        return cart

    def check_out(self, session: Session, cart: list[tuple[Product, int]]) -> float | None:
        """Checkout and order, or a reminder of the cart left behind at either step."""
        rng = self.rng
        if rng.random() >= FUNNEL_CHECKOUT:
            self.remind_of_cart(session, cart)
            return None
        self.identify_for_checkout(session)
        order_id = f"{session.order_prefix}-{rng.getrandbits(52):016d}"
        session.start_checkout(order_id, cart)
        if rng.random() >= FUNNEL_ORDER:
            self.remind_of_cart(session, cart)
            return None
        return session.complete_order(order_id, cart)

    def identify_for_checkout(self, session: Session) -> None:
        """Account holders sign in to pay (most of them); everyone else checks out as a guest.

        The shipping address goes out as flat traits (street, city, postal_code, state,
        country), the names CRM records and profile traits use, not Segment's nested address.
        """
        person, device = self.person, session.device
        if person.user_id and not device.signed_in(session.t) and self.rng.random() < 0.85:
            session.log_in()
        if device.signed_in(session.t):
            if (
                not self.consented("email_marketing", session.t)
                and self.rng.random() < CHECKOUT_EMAIL_OPT_IN
            ):
                self.record_consent(session.t, "email_marketing", "granted", "checkout")
            if self.rng.random() < 0.5:
                session.identify({"email": person.email, **person.address.as_traits()})
            return
        traits = {
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            **person.address.as_traits(),
        }
        if person.shares_phone:
            traits["phone"] = person.phone
        session.identify(traits)

    def remind_of_cart(self, session: Session, cart: list) -> None:
        if not session.device.signed_in(session.t) or session.t - self.last_cart_reminder < 7 * DAY:
            return
        self.last_cart_reminder = session.t
        send_at = session.t + self.rng.randint(HOUR, 3 * HOUR)
        self.schedule(send_at, self.send_email, ABANDONED_CART_EMAIL, "abandoned_cart-1", cart)
