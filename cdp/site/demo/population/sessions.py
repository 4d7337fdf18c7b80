"""Website visits and app sessions: runs of Segment-spec messages from one device
(web.ndjson, app.ndjson)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdp.site.demo.population.chance import new_uuid
from cdp.site.demo.population.clock import SECOND
from cdp.site.demo.population.devices import OS_NAMES, Device
from cdp.site.demo.population.shop import (
    APP,
    APP_LIBRARIES,
    COLLECTIONS,
    CURRENCY,
    PICK_PRODUCT,
    PRODUCTS,
    PRODUCTS_BY_PATH,
    SEARCH_QUERIES,
    SHOP_NAME,
    SITE_PAGES,
    WEB_LIBRARY,
    Product,
    cart_value,
    page_url,
)
from cdp.site.demo.population.traffic import TrafficSource

if TYPE_CHECKING:
    from cdp.site.demo.population.simulation import PersonSimulation


class Session:
    """Messages from one device in time order; it stops quietly at the window's end."""

    source = ""  # the file it goes to: "web" or "app"
    order_prefix = ""

    def __init__(self, sim: PersonSimulation, device: Device, t: int):
        self.sim = sim
        self.device = device
        self.t = t
        self.open = t < sim.clock.end
        self.context: dict = {}

    def wait(self, low: int, high: int) -> None:
        # random() rather than randint(): this runs for every message.
        self.t += low + int(self.sim.rng.random() * (high - low))
        if self.t >= self.sim.clock.end:
            self.open = False

    def emit(self, kind: str, head: dict, body_key: str, body: dict) -> None:
        if not self.open:
            return
        message = {"type": kind, **head, "messageId": new_uuid(self.sim.rng)}
        message["anonymousId"] = self.device.anonymous_id
        if self.device.signed_in(self.t):
            message["userId"] = self.sim.person.user_id
        message["timestamp"] = self.sim.clock.iso(self.t)
        message["context"] = self.context
        message[body_key] = body
        self.sim.record_message(self.source, self.t, message, self.device)

    def track(self, event: str, properties: dict) -> None:
        self.wait(300, 4 * SECOND)
        self.emit("track", {"event": event}, "properties", properties)

    def identify(self, traits: dict) -> None:
        self.wait(200, 2 * SECOND)
        self.emit("identify", {}, "traits", traits)

    def log_in(self) -> None:
        """The sign-in screen, then the identify tying this device to the account."""
        self.show_sign_in()
        self.wait(5 * SECOND, 40 * SECOND)
        if not self.open:
            return
        device = self.device
        # Sessions on one device can overlap: the earliest sign-in is the one that counts.
        if device.signed_in_at is None or self.t < device.signed_in_at:
            device.signed_in_at = self.t
        self.emit("identify", {}, "traits", self.sim.account_traits())
        self.sim.signed_in(self.t, device)

    def start_checkout(self, order_id: str, cart: list) -> None:
        self.show_checkout()
        value = cart_value(cart)
        self.track(
            "Checkout Started",
            {
                "order_id": order_id,
                "value": value,
                "revenue": value,
                "currency": CURRENCY,
                "products": [product.as_item(quantity) for product, quantity in cart],
            },
        )

    def complete_order(self, order_id: str, cart: list) -> float | None:
        self.show_order_confirmation()
        revenue = cart_value(cart)
        self.track(
            "Order Completed",
            {
                "order_id": order_id,
                "revenue": revenue,
                "currency": CURRENCY,
                "products": [product.as_item(quantity) for product, quantity in cart],
            },
        )
        return revenue if self.open else None

    def add_to_cart(self, product: Product, quantity: int) -> None:
        self.track("Product Added", {**product.as_item(quantity), "currency": CURRENCY})
        self.show_cart()

    def product_viewed(self, product: Product) -> None:
        self.track("Product Viewed", {**product.as_item(), "currency": CURRENCY})

    # Each platform (WebVisit, AppSession) shows every step its own way: pages or screens.
    def show_sign_in(self) -> None:
        raise NotImplementedError

    def show_checkout(self) -> None:
        raise NotImplementedError

    def show_order_confirmation(self) -> None:
        raise NotImplementedError

    def show_cart(self) -> None:
        raise NotImplementedError

    def browse(self) -> None:
        raise NotImplementedError

    def view_product(self, product: Product) -> None:
        raise NotImplementedError


class WebVisit(Session):
    """A browser session on the shop website."""

    source = "web"
    order_prefix = "W"

    def __init__(self, sim, device, t, traffic: TrafficSource):
        super().__init__(sim, device, t)
        self.traffic = traffic
        self.ip = sim.session_ip(device)
        self.url = traffic.referrer  # the referrer of the next page

    def page(self, path: str, *, query: str = "", campaign: dict | None = None) -> None:
        if path in PRODUCTS_BY_PATH:
            name, title = "Product", PRODUCTS_BY_PATH[path].name
        else:
            name, title = SITE_PAGES[path]
        url = page_url(path, query)
        page = {
            "path": path,
            "referrer": self.url,
            "search": f"?{query}" if query else "",
            "title": f"{title} | {SHOP_NAME}",
            "url": url,
        }
        self.context = {
            "ip": self.ip,
            "library": WEB_LIBRARY,
            "locale": "en-US" if self.sim.person.country == "US" else "en-GB",
            "page": page,
            "userAgent": self.device.user_agent,
        }
        if campaign:
            self.context["campaign"] = campaign
        self.url = url
        self.emit("page", {"name": name}, "properties", page)

    def land(self) -> Product | None:
        """The landing page, tagged with the visit's campaign; its product, if it shows one."""
        traffic = self.traffic
        path = traffic.landing_path or f"/products/{PICK_PRODUCT.pick(self.sim.rng).slug}"
        self.page(path, query=traffic.query(), campaign=traffic.campaign_context())
        product = PRODUCTS_BY_PATH.get(path)
        if product:
            self.product_viewed(product)
        return product

    def next_page(self, path: str, query: str = "") -> None:
        self.wait(8 * SECOND, 90 * SECOND)
        self.page(path, query=query)

    def browse(self) -> None:
        rng = self.sim.rng
        roll = rng.random()
        if roll < 0.7:
            self.next_page(rng.choice(tuple(COLLECTIONS)))
        elif roll < 0.85:
            self.next_page("/search", rng.choice(SEARCH_QUERIES))
        elif roll < 0.95:
            self.next_page("/")
        else:
            self.next_page("/pages/stores")

    def view_product(self, product: Product) -> None:
        self.next_page(f"/products/{product.slug}")
        self.product_viewed(product)

    def show_cart(self) -> None:
        self.next_page("/cart")

    def show_sign_in(self) -> None:
        self.next_page("/account/login")

    def show_checkout(self) -> None:
        self.next_page("/checkout")

    def show_order_confirmation(self) -> None:
        self.next_page("/checkout/thank-you")


class AppSession(Session):
    """A session in the mobile app."""

    source = "app"
    order_prefix = "A"

    def __init__(self, sim, device, t):
        super().__init__(sim, device, t)
        system = device.form
        self.context = {
            "app": APP,
            "device": {
                "id": device.device_id,
                "type": system,
                "model": device.model,
                "manufacturer": device.manufacturer,
            },
            "ip": sim.session_ip(device),
            "library": APP_LIBRARIES[system],
            "locale": "en-US" if sim.person.country == "US" else "en-GB",
            "os": {"name": OS_NAMES[system], "version": device.os_version},
        }

    def screen(self, name: str, properties: dict | None = None) -> None:
        self.wait(3 * SECOND, 45 * SECOND)
        self.emit("screen", {"name": name}, "properties", properties or {})

    def browse(self) -> None:
        category = self.sim.rng.choice(PRODUCTS).category
        self.screen("Product List", {"category": category})

    def view_product(self, product: Product) -> None:
        self.screen("Product Detail", {"product_id": product.sku, "name": product.name})
        self.product_viewed(product)

    def show_cart(self) -> None:
        self.screen("Cart")

    def show_sign_in(self) -> None:
        self.screen("Sign In")

    def show_checkout(self) -> None:
        self.screen("Checkout")

    def show_order_confirmation(self) -> None:
        self.screen("Order Confirmation")
