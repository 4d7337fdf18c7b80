"""The shop: its name and site, the products and pages, what a cart is worth."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cdp.site.demo.population.chance import WeightedChoice

SHOP_NAME = "Example Outfitters"
SITE = "https://shop.example.com"
CURRENCY = "USD"
WEB_LIBRARY = {"name": "analytics.js", "version": "next-1.72.0"}
APP = {
    "name": SHOP_NAME,
    "version": "5.4.1",
    "build": "5041",
    "namespace": "com.example.outfitters",
}
APP_LIBRARIES = {
    "ios": {"name": "analytics-swift", "version": "1.6.2"},
    "android": {"name": "analytics-kotlin", "version": "1.17.0"},
}


@dataclass(frozen=True)
class Product:
    sku: str
    slug: str
    name: str
    category: str
    price: float
    popularity: int

    def as_item(self, quantity: int = 1) -> dict:
        return {
            "product_id": self.sku,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "price": self.price,
            "quantity": quantity,
        }


# sku, url slug, name, category, price, popularity (weight among views)
PRODUCTS = (
    Product("EO-JKT-001", "alpine-shell-rain-jacket", "Alpine Shell Rain Jacket", "Jackets",
            189.95, 9),
    Product("EO-JKT-002", "summit-down-jacket", "Summit Down Jacket", "Jackets", 249.00, 6),
    Product("EO-JKT-003", "trailhead-fleece", "Trailhead Fleece", "Jackets", 79.50, 8),
    Product("EO-FTW-001", "ridge-runner-trail-shoes", "Ridge Runner Trail Shoes", "Footwear",
            139.99, 8),
    Product("EO-FTW-002", "canyon-hiking-boots", "Canyon Hiking Boots", "Footwear", 179.00, 6),
    Product("EO-FTW-003", "camp-slide-sandals", "Camp Slide Sandals", "Footwear", 44.95, 4),
    Product("EO-PCK-001", "daypack-24l", "Daypack 24L", "Packs", 89.00, 7),
    Product("EO-PCK-002", "expedition-pack-65l", "Expedition Pack 65L", "Packs", 229.00, 3),
    Product("EO-PCK-003", "hydration-vest", "Hydration Vest", "Packs", 99.95, 4),
    Product("EO-CMP-001", "ultralight-tent-2p", "Ultralight Tent 2P", "Camping", 349.00, 3),
    Product("EO-CMP-002", "sleeping-bag-20f", "Sleeping Bag 20°F", "Camping", 159.00, 4),
    Product("EO-CMP-003", "compact-camp-stove", "Compact Camp Stove", "Camping", 59.99, 4),
    Product("EO-CMP-004", "insulated-bottle-32oz", "Insulated Bottle 32oz", "Camping", 34.00, 9),
    Product("EO-ACC-001", "merino-hiking-socks", "Merino Hiking Socks", "Accessories", 21.99,
            10),
    Product("EO-ACC-002", "trail-cap", "Trail Cap", "Accessories", 27.50, 6),
    Product("EO-ACC-003", "headlamp-400", "Headlamp 400", "Accessories", 44.00, 5),
    Product("EO-APP-001", "quick-dry-hiking-pants", "Quick-Dry Hiking Pants", "Apparel", 69.00,
            7),
    Product("EO-APP-002", "merino-base-layer", "Merino Base Layer", "Apparel", 84.95, 5),
    Product("EO-APP-003", "sun-hoodie", "Sun Hoodie", "Apparel", 54.99, 6),
)  # fmt: skip
PRODUCTS_BY_PATH = {f"/products/{product.slug}": product for product in PRODUCTS}
# path → (page name, title)
COLLECTIONS = {
    "/collections/jackets": ("Collection", "Jackets"),
    "/collections/footwear": ("Collection", "Footwear"),
    "/collections/packs": ("Collection", "Packs"),
    "/collections/camping": ("Collection", "Camping"),
    "/collections/accessories": ("Collection", "Accessories"),
    "/collections/apparel": ("Collection", "Apparel"),
    "/collections/new-arrivals": ("Collection", "New Arrivals"),
    "/collections/sale": ("Collection", "Sale"),
}
SITE_PAGES = {
    "/": ("Home", "Gear for the trail"),
    "/cart": ("Cart", "Your cart"),
    "/account/login": ("Sign In", "Sign in"),
    "/checkout": ("Checkout", "Checkout"),
    "/checkout/thank-you": ("Order Confirmation", "Thank you for your order"),
    "/pages/stores": ("Store Locator", "Find a store"),
    "/search": ("Search", "Search results"),
    **COLLECTIONS,
}
SEARCH_QUERIES = tuple(
    urlencode({"q": words})
    for words in ("rain jacket", "hiking boots", "tent", "socks", "daypack", "fleece")
)

PICK_PRODUCT = WeightedChoice([(product, product.popularity) for product in PRODUCTS])


def page_url(path: str, query: str = "") -> str:
    return f"{SITE}{path}?{query}" if query else f"{SITE}{path}"


def cart_value(cart: list) -> float:
    return round(sum(product.price * quantity for product, quantity in cart), 2)
