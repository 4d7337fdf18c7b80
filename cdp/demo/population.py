"""A seeded, synthetic omnichannel customer population, written as the files a brand feeds a CDP.

The demo, the tests and the benchmarks need data whose answers are known: website and app
tracking (Segment spec), email platform events, in-store purchases, CRM records with the
noise real CRMs have, consent records and daily ad costs, plus `ground_truth.csv`, which says
which person every identifier belongs to, so identity resolution can be scored and
attribution checked against a known channel mix.

The same seed writes byte-identical files. Each person is simulated on their own random
stream and written as soon as they are finished, so memory does not grow with the number of
customers. Rows are therefore grouped by person and in time order within a person, not
across people. Pure Python, no Django.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import heapq
import itertools
import math
import pathlib
import random
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from operator import itemgetter
from urllib.parse import urlencode

import orjson

DEFAULT_START = dt.date(2026, 8, 1)
# Phone numbers are the smallest id space handed out by person number (see IdentifierSpace).
MAX_CUSTOMERS = 8_000_000

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

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

# ----------------------------------------------------------------------------------------
# Files

WEB_FILE = "web.ndjson"
APP_FILE = "app.ndjson"
EMAIL_FILE = "email.ndjson"
POS_FILE = "pos.csv"
CRM_FILE = "crm.csv"
CONSENTS_FILE = "consents.csv"
AD_COSTS_FILE = "ad_costs.csv"
GROUND_TRUTH_FILE = "ground_truth.csv"
FILES = (
    WEB_FILE,
    APP_FILE,
    EMAIL_FILE,
    POS_FILE,
    CRM_FILE,
    CONSENTS_FILE,
    AD_COSTS_FILE,
    GROUND_TRUTH_FILE,
)

CSV_HEADERS = {
    # Columns prefixed `traits.` go to the event's context.traits on import; the rest
    # (except the Segment fields message_id, timestamp, event, user_id) to properties.
    POS_FILE: "message_id,timestamp,event,user_id,traits.loyalty_id,traits.email,order_id,"
    "store_id,revenue,currency",
    CRM_FILE: "crm_id,first_name,last_name,email,phone,birthday,street,city,postal_code,state,"
    "country,loyalty_id",
    CONSENTS_FILE: "timestamp,user_id,email,purpose,status,source",
    AD_COSTS_FILE: "date,channel,source,medium,campaign,cost,currency,impressions,clicks",
    GROUND_TRUTH_FILE: "person_id,source,kind,value",
}
CSV_COLUMNS = {name: tuple(header.split(",")) for name, header in CSV_HEADERS.items()}

# ----------------------------------------------------------------------------------------
# People

# Formal first name → the nickname a CRM record may carry instead.
NICKNAMES = {
    "Jonathan": "Jon", "William": "Bill", "Elizabeth": "Liz", "Robert": "Bob",
    "Katherine": "Kate", "Michael": "Mike", "James": "Jim", "Richard": "Rick",
    "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt",
    "Anthony": "Tony", "Joseph": "Joe", "Steven": "Steve", "Andrew": "Andy",
    "Joshua": "Josh", "Benjamin": "Ben", "Nicholas": "Nick", "Alexander": "Alex",
    "Edward": "Ed", "Margaret": "Maggie", "Jennifer": "Jen", "Patricia": "Pat",
    "Rebecca": "Becky", "Susan": "Sue", "Deborah": "Debbie", "Jessica": "Jess",
    "Victoria": "Vicky", "Abigail": "Abby", "Samantha": "Sam", "Kimberly": "Kim",
    "Timothy": "Tim", "Gregory": "Greg", "Theodore": "Ted", "Catherine": "Cathy",
}  # fmt: skip
FIRST_NAMES = (
    *NICKNAMES,
    *"""Emma Olivia Noah Liam Sophia Mia Ethan Grace Chloe Lucas Ava Isabella Harper Aiden Priya
    Arjun Wei Mei Carlos María José Luis Sofía Fatima Omar Aisha Hiroshi Yuki Ngozi Kwame Zoë
    Renée Siobhan Oliver Harry Amelia Isla Freya""".split(),
)
LAST_NAMES = tuple(
    """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Kim Chen
    Singh O'Brien Murphy Kelly Evans Hughes Edwards Cooper Ward Morgan Bell Shah Okafor Kowalski
    Müller Novak Rossi Dubois Tanaka Cohen""".split()
)
# Handles some people use instead of their name in their email address.
EMAIL_HANDLES = tuple(
    "trailrunner sunnyday mountainfan bluesky coffeelover wanderer campfire peakbagger".split()
)
EMAIL_PATTERNS = (
    ("{first}.{last}{n}", 30),
    ("{first}{last}{n}", 20),
    ("{initial}{last}{n}", 15),
    ("{first}_{last}{n}", 8),
    ("{first}{n}", 8),
    ("{last}.{first}{n}", 7),
    ("{handle}{n}", 12),
)
EMAIL_DOMAINS = {
    "US": (
        ("gmail.com", 38),
        ("yahoo.com", 12),
        ("icloud.com", 12),
        ("outlook.com", 8),
        ("hotmail.com", 7),
        ("aol.com", 3),
        ("comcast.net", 3),
        ("att.net", 2),
        ("proton.me", 2),
    ),
    "GB": (
        ("gmail.com", 40),
        ("hotmail.co.uk", 15),
        ("outlook.com", 10),
        ("yahoo.co.uk", 10),
        ("icloud.com", 10),
        ("btinternet.com", 8),
        ("sky.com", 5),
    ),
}
WEBMAIL_REFERRERS = {
    "gmail.com": "https://mail.google.com/",
    "outlook.com": "https://outlook.live.com/",
    "hotmail.com": "https://outlook.live.com/",
    "hotmail.co.uk": "https://outlook.live.com/",
    "yahoo.com": "https://mail.yahoo.com/",
}

UK_SHARE = 0.12
# (city, state, first three zip digits, area codes, UTC offset in summer)
US_CITIES = (
    ("New York", "NY", "100", ("212", "646", "917"), -4),
    ("Brooklyn", "NY", "112", ("718", "347"), -4),
    ("Boston", "MA", "021", ("617", "857"), -4),
    ("Philadelphia", "PA", "191", ("215", "267"), -4),
    ("Washington", "DC", "200", ("202",), -4),
    ("Atlanta", "GA", "303", ("404", "678"), -4),
    ("Miami", "FL", "331", ("305", "786"), -4),
    ("Charlotte", "NC", "282", ("704", "980"), -4),
    ("Chicago", "IL", "606", ("312", "773"), -5),
    ("Minneapolis", "MN", "554", ("612",), -5),
    ("Austin", "TX", "787", ("512", "737"), -5),
    ("Dallas", "TX", "752", ("214", "469"), -5),
    ("Houston", "TX", "770", ("713", "832"), -5),
    ("Nashville", "TN", "372", ("615",), -5),
    ("Denver", "CO", "802", ("303", "720"), -6),
    ("Salt Lake City", "UT", "841", ("801", "385"), -6),
    ("Phoenix", "AZ", "850", ("602", "480"), -7),
    ("Seattle", "WA", "981", ("206",), -7),
    ("Portland", "OR", "972", ("503", "971"), -7),
    ("San Francisco", "CA", "941", ("415", "628"), -7),
    ("Oakland", "CA", "946", ("510",), -7),
    ("Los Angeles", "CA", "900", ("213", "323", "310"), -7),
    ("San Diego", "CA", "921", ("619", "858"), -7),
    ("Sacramento", "CA", "958", ("916",), -7),
)
# (city, region, postcode districts, UTC offset in summer)
UK_CITIES = (
    ("London", "England", ("SW1A", "N1", "E8", "SE15", "W11", "NW3"), 1),
    ("Manchester", "England", ("M1", "M4", "M20"), 1),
    ("Birmingham", "England", ("B1", "B15"), 1),
    ("Leeds", "England", ("LS1", "LS6"), 1),
    ("Bristol", "England", ("BS1", "BS8"), 1),
    ("Liverpool", "England", ("L1", "L17"), 1),
    ("Edinburgh", "Scotland", ("EH1", "EH3"), 1),
    ("Glasgow", "Scotland", ("G1", "G12"), 1),
    ("Cardiff", "Wales", ("CF10", "CF24"), 1),
)
STREET_NAMES = tuple(
    """Oak Maple Cedar Pine Elm Washington Lake Hill Park Main Church Highland Sunset Mill River
    Spring Valley Forest Meadow Lincoln Franklin Madison Willow Chestnut Walnut Ridge Harbor
    Grove""".split()
)
STREET_SUFFIXES = {
    "US": ("St", "Ave", "Blvd", "Rd", "Ln", "Dr", "Ct", "Way", "Pl"),
    "GB": ("Road", "Street", "Lane", "Avenue", "Close", "Gardens", "Crescent", "Terrace"),
}
UK_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
US_PHONE_FORMATS = (
    "({area}) {exchange}-{line}",
    "{area}.{exchange}.{line}",
    "+1 {area} {exchange} {line}",
    "{area}-{exchange}-{line}",
    "+1{area}{exchange}{line}",
    "1-{area}-{exchange}-{line}",
)
UK_PHONE_FORMATS = ("0{head} {tail}", "+44 {head} {tail}", "+44{head}{tail}")
# First octets of consumer broadband and mobile carrier address blocks.
HOME_NETWORKS = {"US": (24, 50, 67, 68, 71, 73, 76, 98, 99, 108), "GB": (81, 86, 90, 92, 109)}
MOBILE_NETWORKS = {"US": (172, 174, 107, 166), "GB": (31, 82, 148)}

REGISTERED_SHARE = 0.60  # people with a shop account (a user_id) who log in in the window
LOYALTY_SHARE_US = 0.55  # in-store loyalty members; the loyalty programme is US-only
APP_SHARE = 0.40  # people with the mobile app installed
RECEIPT_BY_EMAIL_SHARE = 0.08  # non-members who shop in store and give an email for a receipt

# ----------------------------------------------------------------------------------------
# Devices

# (user agent, form factor, weight)
BROWSERS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Safari/537.36",
        "desktop",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.5 Safari/605.1.15",
        "desktop",
        14,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Safari/537.36 Edg/127.0.0.0",
        "desktop",
        6,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
        "desktop",
        4,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "mobile",
        28,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/127.0.0.0 Mobile Safari/537.36",
        "mobile",
        15,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        "tablet",
        3,
    ),
)
# (model, manufacturer)
PHONE_MODELS = {
    "ios": (("iPhone15,2", "Apple"), ("iPhone15,4", "Apple"), ("iPhone16,1", "Apple"),
            ("iPhone16,2", "Apple"), ("iPhone14,5", "Apple")),
    "android": (("Pixel 8", "Google"), ("Pixel 7a", "Google"), ("SM-S921U", "samsung"),
                ("SM-A546U", "samsung"), ("moto g power 5G - 2024", "motorola")),
}  # fmt: skip
OS_VERSIONS = {"ios": ("17.5.1", "17.6.1", "18.0"), "android": ("13", "14", "15")}
OS_NAMES = {"ios": "iOS", "android": "Android"}
IOS_SHARE = {"US": 0.58, "GB": 0.52}
PUSH_OPT_IN = 0.6
NEW_INSTALL_SHARE = 0.25  # app installs that happen inside the window

# ----------------------------------------------------------------------------------------
# The shop


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
# (id, city, state): stores are in the US, where the loyalty programme runs.
STORES = (
    ("S001", "New York", "NY"),
    ("S002", "Brooklyn", "NY"),
    ("S003", "Boston", "MA"),
    ("S004", "Philadelphia", "PA"),
    ("S005", "Atlanta", "GA"),
    ("S006", "Chicago", "IL"),
    ("S007", "Austin", "TX"),
    ("S008", "Denver", "CO"),
    ("S009", "Seattle", "WA"),
    ("S010", "Portland", "OR"),
    ("S011", "San Francisco", "CA"),
    ("S012", "Los Angeles", "CA"),
)
STORE_HOURS = range(10, 20)  # local opening hours

# ----------------------------------------------------------------------------------------
# Traffic

# Share of website visits by channel, email excepted: email visits follow email clicks.
CHANNEL_MIX = (
    ("Direct", 20),
    ("Organic Search", 25),
    ("Paid Search", 17),
    ("Organic Social", 6),
    ("Paid Social", 12),
    ("Display", 5),
    ("Affiliates", 5),
    ("Referral", 6),
)
# Unpaid channels: (referrers with weights, landing path or None for a product page, intent).
# Intent is how likely a visit is to end in a purchase, relative to organic search.
ORGANIC_TRAFFIC = {
    "Direct": ((("", 1),), "/", 1.15),
    "Organic Search": (
        (("https://www.google.com/", 85), ("https://www.bing.com/", 10),
         ("https://duckduckgo.com/", 5)),
        None,
        1.0,
    ),
    "Organic Social": (
        (("https://www.facebook.com/", 60), ("https://l.instagram.com/", 20),
         ("https://www.pinterest.com/", 12), ("https://t.co/", 8)),
        "/collections/new-arrivals",
        0.45,
    ),
    "Referral": (
        (("https://www.outdoorgearlab.com/topics/clothing-womens/best-rain-jacket-womens", 4),
         ("https://www.switchbacktravel.com/best-hiking-boots", 3),
         ("https://trailnotes.example.org/2026/08/what-i-packed-for-the-jmt/", 2),
         ("https://www.cleverhiker.com/blog/best-daypacks", 2)),
        None,
        0.85,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class PaidCampaign:
    """An always-on ad campaign: its UTM tags, its traffic and what a click costs."""

    channel: str
    source: str
    medium: str
    name: str
    weight: int  # share of its channel's visits
    intent: float  # likelihood of a purchase relative to organic search
    landing_path: str | None  # None: a product page
    referrers: tuple[str, ...]
    pricing: str  # "cpc": per click, "cpm": per thousand impressions, "commission": of revenue
    price: float
    click_through_rate: float
    terms: tuple[str, ...] = ()
    contents: tuple[str, ...] = ()
    click_id: str = ""  # the parameter the ad platform appends to the landing url
    click_id_rate: float = 0.0
    retargeting: bool = False  # shown only to people who already viewed products


PAID_CAMPAIGNS = (
    PaidCampaign("Paid Search", "google", "cpc", "brand_search", weight=4, intent=1.7,
                 landing_path="/", referrers=("https://www.google.com/",),
                 pricing="cpc", price=0.62, click_through_rate=0.09,
                 terms=("example outfitters", "example outfitters jackets",
                        "example outfitters store near me"),
                 click_id="gclid", click_id_rate=1.0),
    PaidCampaign("Paid Search", "google", "cpc", "generic_rain_jackets", weight=3, intent=1.25,
                 landing_path="/collections/jackets", referrers=("https://www.google.com/",),
                 pricing="cpc", price=1.85, click_through_rate=0.035,
                 terms=("rain jacket", "waterproof jacket women", "best rain jacket",
                        "lightweight rain shell"),
                 click_id="gclid", click_id_rate=1.0),
    PaidCampaign("Paid Search", "google", "cpc", "shopping_all_products", weight=3, intent=1.45,
                 landing_path=None, referrers=("https://www.google.com/",),
                 pricing="cpc", price=0.95, click_through_rate=0.012,
                 click_id="gclid", click_id_rate=1.0),
    PaidCampaign("Paid Search", "bing", "cpc", "bing_brand_search", weight=1, intent=1.6,
                 landing_path="/", referrers=("https://www.bing.com/",),
                 pricing="cpc", price=0.55, click_through_rate=0.07,
                 terms=("example outfitters", "example outfitters coupon"),
                 click_id="msclkid", click_id_rate=1.0),
    PaidCampaign("Paid Social", "facebook", "paid_social", "fall_collection_prospecting",
                 weight=4, intent=0.55, landing_path="/collections/new-arrivals",
                 referrers=("https://l.facebook.com/", "https://m.facebook.com/"),
                 pricing="cpc", price=1.05, click_through_rate=0.009,
                 contents=("carousel_v1", "video_15s", "static_lifestyle"),
                 click_id="fbclid", click_id_rate=0.7),
    PaidCampaign("Paid Social", "instagram", "paid_social", "fall_collection_reels",
                 weight=3, intent=0.5, landing_path="/collections/new-arrivals",
                 referrers=("https://l.instagram.com/",),
                 pricing="cpc", price=1.2, click_through_rate=0.008,
                 contents=("reel_trail_day", "reel_unboxing"),
                 click_id="fbclid", click_id_rate=0.7),
    PaidCampaign("Paid Social", "facebook", "paid_social", "retargeting_viewed_products",
                 weight=3, intent=1.35, landing_path=None,
                 referrers=("https://l.facebook.com/",),
                 pricing="cpc", price=0.8, click_through_rate=0.014,
                 contents=("dynamic_product_ad",), click_id="fbclid", click_id_rate=0.7,
                 retargeting=True),
    PaidCampaign("Paid Social", "tiktok", "cpc", "tiktok_spark_ads", weight=2, intent=0.35,
                 landing_path="/collections/new-arrivals", referrers=("https://www.tiktok.com/",),
                 pricing="cpc", price=0.7, click_through_rate=0.011,
                 contents=("creator_hike_vlog", "creator_gear_haul")),
    PaidCampaign("Display", "gdn", "display", "gdn_prospecting", weight=3, intent=0.15,
                 landing_path="/collections/new-arrivals",
                 referrers=("https://tpc.googlesyndication.com/",),
                 pricing="cpm", price=2.4, click_through_rate=0.0015,
                 contents=("300x250_fall", "728x90_fall")),
    PaidCampaign("Display", "criteo", "display", "criteo_retargeting", weight=2, intent=0.5,
                 landing_path=None,
                 referrers=("https://www.weather.com/", "https://www.accuweather.com/"),
                 pricing="cpm", price=4.5, click_through_rate=0.004,
                 contents=("dynamic_banner",), retargeting=True),
    PaidCampaign("Affiliates", "rakuten", "affiliate", "rakuten_cashback", weight=2, intent=1.4,
                 landing_path="/", referrers=("https://www.rakuten.com/",),
                 pricing="commission", price=0.08, click_through_rate=0.02),
    PaidCampaign("Affiliates", "wirecutter", "affiliate", "review_sites", weight=2, intent=1.3,
                 landing_path="/products/alpine-shell-rain-jacket",
                 referrers=("https://www.nytimes.com/wirecutter/reviews/best-rain-jackets/",),
                 pricing="commission", price=0.08, click_through_rate=0.03),
)  # fmt: skip


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
EMAIL_COST_PER_SEND = 0.0015  # the email platform's price per delivered email, USD
BROADCAST_HOUR = 15  # UTC: late morning on the US east coast
EMAIL_CLICK_OPENS_SITE = 0.9  # the rest of the clicks are lost (blocked, closed tab, no browser)
UNSUBSCRIBE_PER_OPEN = 0.006

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
STORE_VISITS_MEAN = 0.8  # per loyalty member

# Local hour of day → relative activity.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 10, 9, 6, 3)

# ----------------------------------------------------------------------------------------
# Consent

PURPOSES = (
    "analytics",
    "personalization",
    "ad_user_data",
    "ad_personalization",
    "email_marketing",
    "sms_marketing",
)
# Share of people granting each purpose when they sign up (the rest deny).
SIGNUP_GRANT_RATES = {
    "analytics": 0.88,
    "personalization": 0.72,
    "ad_user_data": 0.52,
    "ad_personalization": 0.85,  # of those who granted ad_user_data; nobody else can
    "email_marketing": 0.62,
    "sms_marketing": 0.2,
}
PREFERENCE_CENTER_WITHDRAWALS = {
    "analytics": 0.03,
    "personalization": 0.04,
    "ad_user_data": 0.06,
    "ad_personalization": 0.08,
}
CHECKOUT_EMAIL_OPT_IN = 0.15  # subscribers who first said no, ticking the box at checkout
POS_EMAIL_OPT_IN = 0.4  # loyalty members without an account, asked at the till

# ----------------------------------------------------------------------------------------
# CRM noise

CRM_SHARE = {"loyalty member": 0.9, "other": 0.5}
CRM_NOISE_RATE = 0.25
CRM_DUPLICATE_RATE = 0.05
CRM_NOISE_KINDS = ("typo", "nickname", "missing", "moved", "email case")


# ----------------------------------------------------------------------------------------
# Small building blocks


class WeightedChoice:
    """A fixed table of values and weights to draw from many times, cheaply."""

    def __init__(self, pairs):
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


PICK_CHANNEL = WeightedChoice(CHANNEL_MIX)
PICK_HOUR = WeightedChoice(list(zip(range(24), HOUR_WEIGHTS, strict=True)))
PICK_PRODUCT = WeightedChoice([(product, product.popularity) for product in PRODUCTS])
PICK_BROWSER = WeightedChoice([((agent, form), weight) for agent, form, weight in BROWSERS])
PICK_EMAIL_PATTERN = WeightedChoice(EMAIL_PATTERNS)
PICK_EMAIL_DOMAIN = {country: WeightedChoice(pairs) for country, pairs in EMAIL_DOMAINS.items()}
PICK_REFERRER = {
    channel: WeightedChoice(referrers) for channel, (referrers, _, _) in ORGANIC_TRAFFIC.items()
}
PICK_CAMPAIGN = {
    (channel, retargeting_allowed): WeightedChoice(
        [
            (campaign, campaign.weight)
            for campaign in PAID_CAMPAIGNS
            if campaign.channel == channel and (retargeting_allowed or not campaign.retargeting)
        ]
    )
    for channel in {campaign.channel for campaign in PAID_CAMPAIGNS}
    for retargeting_allowed in (False, True)
}
PAID_CAMPAIGN_NAMES = {campaign.name for campaign in PAID_CAMPAIGNS}
STORES_BY_STATE = defaultdict(list)
for _store in STORES:
    STORES_BY_STATE[_store[2]].append(_store[0])


UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from `rng`, as uuid.UUID(int=..., version=4) spells it."""
    # Formatted by hand: it is the most frequent call of the whole generation.
    text = f"{(rng.getrandbits(128) & UUID4_CLEAR) | UUID4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def ascii_letters(text: str) -> str:
    """`José O'Brien` → `joseobrien`: what survives into an email address."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if "a" <= char <= "z")


class Clock:
    """Times are milliseconds since the window's start; this turns them into ISO 8601."""

    def __init__(self, start: dt.date, days: int):
        self.days = days
        self.end = days * DAY
        self.dates = [(start + dt.timedelta(days=day)).isoformat() for day in range(days)]
        self.minutes: dict[int, str] = {}  # "2026-08-01T09:15:" by minute: at most days × 1440

    def iso(self, ms: int) -> str:
        minute, rest = divmod(ms, MINUTE)
        prefix = self.minutes.get(minute)
        if prefix is None:
            day, minute_of_day = divmod(minute, 24 * 60)
            hour, minute_of_hour = divmod(minute_of_day, 60)
            prefix = f"{self.dates[day]}T{hour:02d}:{minute_of_hour:02d}:"
            self.minutes[minute] = prefix
        second, milli = divmod(rest, SECOND)
        return f"{prefix}{second:02d}.{milli:03d}Z"


class IdentifierSpace:
    """Identifiers handed out by person number, unique by construction.

    Each kind is an affine permutation of the person number (a multiplier near the golden
    ratio of the modulus and coprime to it, an offset from the seed), so no two people share
    an id, neighbours' ids look unrelated, and no set of issued ids is kept in memory.
    """

    def __init__(self, seed: int):
        offsets = random.Random(f"omnitrail-demo/{seed}/identifiers")
        self.offsets = {
            kind: offsets.randrange(10**9) for kind in ("user", "loyalty", "crm", "phone", "email")
        }

    def _scramble(self, number: int, kind: str, multiplier: int, modulus: int) -> int:
        return (number * multiplier + self.offsets[kind]) % modulus

    def user_id(self, number: int) -> str:
        return str(100_000_000 + self._scramble(number, "user", 556_231_217, 900_000_000))

    def loyalty_id(self, number: int) -> str:
        return f"LOY{self._scramble(number, 'loyalty', 618_033_989, 10**9):09d}"

    def crm_id(self, number: int, copy: int) -> str:
        return f"CRM-{self._scramble(2 * number + copy, 'crm', 381_966_011, 10**9):09d}"

    def phone_digits(self, number: int) -> int:
        """Seven digits, the first not 0 or 1, as a US exchange must start."""
        return 2_000_000 + self._scramble(number, "phone", 4_944_271, 8_000_000)

    def email_number(self, number: int) -> str:
        return str(self._scramble(number, "email", 6_180_339, 10**7))


# ----------------------------------------------------------------------------------------
# A person and their devices


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    postal_code: str
    state: str
    country: str

    def as_traits(self) -> dict:
        return {
            "street": self.street,
            "city": self.city,
            "postal_code": self.postal_code,
            "state": self.state,
            "country": self.country,
        }


@dataclass
class Device:
    kind: str  # "web" or "app"
    anonymous_id: str
    form: str  # desktop | mobile | tablet | ios | android
    user_agent: str = ""
    device_id: str = ""
    model: str = ""
    manufacturer: str = ""
    os_version: str = ""
    push_enabled: bool = False
    new_install: bool = False
    signed_in_at: int | None = None  # the first sign-in on this device
    sessions: int = 0

    def signed_in(self, t: int) -> bool:
        return self.signed_in_at is not None and self.signed_in_at <= t


@dataclass
class Person:
    person_id: str
    first_name: str
    last_name: str
    email: str
    phone: str  # E.164
    shares_phone: bool  # gives the phone number when signing up online
    birthday: str
    address: Address
    utc_offset: int
    user_id: str | None
    loyalty_id: str | None
    devices: list[Device]
    home_ip: str
    activity: float  # how often they visit, relative to the average
    propensity: float  # how readily they buy, relative to the average

    @property
    def country(self) -> str:
        return self.address.country


def new_person(number: int, rng: random.Random, ids: IdentifierSpace) -> Person:
    country = "GB" if rng.random() < UK_SHARE else "US"
    first_name = rng.choice(FIRST_NAMES)
    last_name = rng.choice(LAST_NAMES)
    address, utc_offset, area_code = home_address(rng, country)
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 57))
    return Person(
        person_id=f"P{number:06d}",
        first_name=first_name,
        last_name=last_name,
        email=email_address(rng, first_name, last_name, ids.email_number(number), country),
        phone=phone_number(country, area_code, ids.phone_digits(number)),
        shares_phone=rng.random() < 0.5,
        birthday=born.isoformat(),
        address=address,
        utc_offset=utc_offset,
        user_id=ids.user_id(number) if rng.random() < REGISTERED_SHARE else None,
        loyalty_id=(
            ids.loyalty_id(number) if country == "US" and rng.random() < LOYALTY_SHARE_US else None
        ),
        devices=new_devices(rng, country),
        home_ip=ip_address(rng, HOME_NETWORKS[country]),
        activity=min(4.0, rng.lognormvariate(0.0, 0.6)),
        propensity=min(4.0, rng.lognormvariate(0.0, 0.5)),
    )


def home_address(rng: random.Random, country: str, *, city: tuple | None = None):
    """(address, UTC offset, phone area code) somewhere in `country`."""
    street = (
        f"{rng.randint(1, 4999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES[country])}"
    )
    if country == "US":
        name, state, zip_prefix, area_codes, offset = city or rng.choice(US_CITIES)
        if rng.random() < 0.15:
            street += f" Apt {rng.randint(1, 30)}{rng.choice('ABCD')}"
        postal_code = f"{zip_prefix}{rng.randint(0, 99):02d}"
        return Address(street, name, postal_code, state, country), offset, rng.choice(area_codes)
    name, region, districts, offset = city or rng.choice(UK_CITIES)
    letters = rng.choice(UK_POSTCODE_LETTERS) + rng.choice(UK_POSTCODE_LETTERS)
    postal_code = f"{rng.choice(districts)} {rng.randint(1, 9)}{letters}"
    return Address(street, name, postal_code, region, country), offset, ""


def phone_number(country: str, area_code: str, digits: int) -> str:
    if country == "US":
        return f"+1{area_code}{digits}"
    # UK mobiles: 7, two digits, then seven.
    return f"+447{40 + digits % 60}{digits}"


def written_phone(phone: str, rng: random.Random) -> str:
    """The E.164 number as a person or a clerk would type it."""
    if phone.startswith("+1"):
        return rng.choice(US_PHONE_FORMATS).format(
            area=phone[2:5], exchange=phone[5:8], line=phone[8:12]
        )
    return rng.choice(UK_PHONE_FORMATS).format(head=phone[3:7], tail=phone[7:])


def email_address(rng: random.Random, first: str, last: str, number: str, country: str) -> str:
    """Usually the name plus a number; the number makes it unique to this person."""
    local = PICK_EMAIL_PATTERN.pick(rng).format(
        first=ascii_letters(first),
        last=ascii_letters(last),
        initial=ascii_letters(first)[:1],
        handle=rng.choice(EMAIL_HANDLES),
        n=number,
    )
    return f"{local}@{PICK_EMAIL_DOMAIN[country].pick(rng)}"


def ip_address(rng: random.Random, networks: tuple[int, ...]) -> str:
    return (
        f"{rng.choice(networks)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def new_devices(rng: random.Random, country: str) -> list[Device]:
    has_app = rng.random() < APP_SHARE
    if has_app:
        browsers = rng.choices((0, 1, 2), (15, 60, 25))[0]
    else:
        browsers = rng.choices((1, 2, 3), (55, 33, 12))[0]
    devices = [web_device(rng) for _ in range(browsers)]
    if has_app:
        devices.append(app_device(rng, country))
    return devices


def web_device(rng: random.Random) -> Device:
    user_agent, form = PICK_BROWSER.pick(rng)
    return Device(kind="web", anonymous_id=new_uuid(rng), form=form, user_agent=user_agent)


def app_device(rng: random.Random, country: str) -> Device:
    system = "ios" if rng.random() < IOS_SHARE[country] else "android"
    model, manufacturer = rng.choice(PHONE_MODELS[system])
    if system == "ios":
        device_id = new_uuid(rng).upper()  # identifierForVendor
    else:
        device_id = f"{rng.getrandbits(64):016x}"  # ANDROID_ID
    return Device(
        kind="app",
        anonymous_id=new_uuid(rng),
        form=system,
        device_id=device_id,
        model=model,
        manufacturer=manufacturer,
        os_version=rng.choice(OS_VERSIONS[system]),
        push_enabled=rng.random() < PUSH_OPT_IN,
        new_install=rng.random() < NEW_INSTALL_SHARE,
    )


# ----------------------------------------------------------------------------------------
# CRM records


def crm_records(person: Person, rng: random.Random, ids: IdentifierSpace, number: int):
    """The person's rows in the CRM: none, one, or (for some) a noisy duplicate."""
    share = CRM_SHARE["loyalty member" if person.loyalty_id else "other"]
    if rng.random() >= share:
        return []
    records = [crm_record(person, rng, ids.crm_id(number, 0), noisy=rng.random() < CRM_NOISE_RATE)]
    if rng.random() < CRM_DUPLICATE_RATE:
        records.append(crm_record(person, rng, ids.crm_id(number, 1), noisy=True))
    return records


def crm_record(person: Person, rng: random.Random, crm_id: str, *, noisy: bool) -> list[str]:
    record = {
        "crm_id": crm_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": written_phone(person.phone, rng),
        "birthday": person.birthday,
        **person.address.as_traits(),
        "loyalty_id": person.loyalty_id or "",
    }
    if noisy:
        for kind in rng.sample(CRM_NOISE_KINDS, rng.choice((1, 1, 1, 2))):
            add_crm_noise(record, kind, person, rng)
    return [record[column] for column in CSV_COLUMNS[CRM_FILE]]


def add_crm_noise(record: dict, kind: str, person: Person, rng: random.Random) -> None:
    if kind == "nickname" and person.first_name in NICKNAMES:
        record["first_name"] = NICKNAMES[person.first_name]
    elif kind in ("typo", "nickname"):
        field = rng.choice(("first_name", "last_name"))
        record[field] = misspelled(record[field], rng)
    elif kind == "missing":
        for field in rng.sample(("email", "phone", "birthday"), rng.choice((1, 1, 2))):
            record[field] = ""
    elif kind == "moved":
        record.update(previous_address(person, rng).as_traits())
    elif kind == "email case" and record["email"]:
        record["email"] = recased_email(record["email"], rng)


def misspelled(name: str, rng: random.Random) -> str:
    """One slip of the keyboard: two letters swapped, one dropped or one doubled."""
    if len(name) < 3:
        return name + name[-1]
    at = rng.randrange(1, len(name) - 1)
    slip = rng.choice(("swap", "drop", "double"))
    if slip == "swap" and name[at] != name[at + 1]:
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    if slip == "double":
        return name[: at + 1] + name[at:]
    return name[:at] + name[at + 1 :]


def recased_email(email: str, rng: random.Random) -> str:
    local, domain = email.split("@")
    style = rng.randrange(3)
    if style == 0:
        return email.upper()
    if style == 1:
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return local.capitalize() + "@" + domain


def previous_address(person: Person, rng: random.Random) -> Address:
    """Where the person lived before: the CRM was not told they moved."""
    if rng.random() < 0.6:
        cities = US_CITIES if person.country == "US" else UK_CITIES
        city = next(city for city in cities if city[0] == person.address.city)
        return home_address(rng, person.country, city=city)[0]
    return home_address(rng, person.country)[0]


# ----------------------------------------------------------------------------------------
# Where a website visit comes from


@dataclass(frozen=True)
class TrafficSource:
    channel: str
    referrer: str = ""
    source: str = ""  # utm_source; empty for untagged visits
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""
    click_id: tuple[str, str] | None = None
    landing_path: str | None = None  # None: a product page
    intent: float = 1.0

    def query(self) -> str:
        """The landing url's query string: the UTM tags, then the ad platform's click id."""
        if not self.source:
            return ""
        params = [
            ("utm_source", self.source),
            ("utm_medium", self.medium),
            ("utm_campaign", self.campaign),
        ]
        if self.term:
            params.append(("utm_term", self.term))
        if self.content:
            params.append(("utm_content", self.content))
        if self.click_id:
            params.append(self.click_id)
        return urlencode(params)

    def campaign_context(self) -> dict | None:
        """context.campaign as analytics.js reads it from the landing url."""
        if not self.source:
            return None
        campaign = {"name": self.campaign, "source": self.source, "medium": self.medium}
        if self.term:
            campaign["term"] = self.term
        if self.content:
            campaign["content"] = self.content
        return campaign


def ad_click_id(rng: random.Random, length: int = 48) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "".join(rng.choices(alphabet, k=length))


def paid_traffic(campaign: PaidCampaign, rng: random.Random) -> TrafficSource:
    click_id = None
    if campaign.click_id and rng.random() < campaign.click_id_rate:
        click_id = (campaign.click_id, ad_click_id(rng))
    return TrafficSource(
        channel=campaign.channel,
        referrer=rng.choice(campaign.referrers),
        source=campaign.source,
        medium=campaign.medium,
        campaign=campaign.name,
        term=rng.choice(campaign.terms) if campaign.terms else "",
        content=rng.choice(campaign.contents) if campaign.contents else "",
        click_id=click_id,
        landing_path=campaign.landing_path,
        intent=campaign.intent,
    )


def organic_traffic(channel: str, rng: random.Random) -> TrafficSource:
    _, landing_path, intent = ORGANIC_TRAFFIC[channel]
    if channel == "Direct" and rng.random() < 0.3:
        landing_path = None  # a bookmarked or typed-in product page
    return TrafficSource(
        channel=channel,
        referrer=PICK_REFERRER[channel].pick(rng),
        landing_path=landing_path,
        intent=intent,
    )


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


def page_url(path: str, query: str = "") -> str:
    return f"{SITE}{path}?{query}" if query else f"{SITE}{path}"


# ----------------------------------------------------------------------------------------
# Sessions: a run of messages from one device


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


def cart_value(cart: list) -> float:
    return round(sum(product.price * quantity for product, quantity in cart), 2)


# ----------------------------------------------------------------------------------------
# One person's window


class PersonSimulation:
    """Everything one person does in the window, in time order, and the rows it leaves.

    Visits, store trips, emails and pushes are queued by time; handling one may queue
    more (an email click opens a website visit, an abandoned cart triggers an email).
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

    # -- consent

    def consented(self, purpose: str, t: int) -> bool:
        history = self.consent_history[purpose]
        at = bisect.bisect_right(history, (t, "~"))
        return at > 0 and history[at - 1][1] == "granted"

    def record_consent(self, t: int, purpose: str, status: str, source: str, *, user_id=None):
        if t >= self.clock.end:
            return
        bisect.insort(self.consent_history[purpose], (t, status))
        user_id = self.person.user_id if user_id is None else user_id
        row = [self.clock.iso(t), user_id, self.person.email, purpose, status, source]
        self.consents.append((t, row))

    def record_signup_consents(self, t: int, source: str) -> None:
        rng = self.rng
        for offset, purpose in enumerate(PURPOSES):
            granted = rng.random() < SIGNUP_GRANT_RATES[purpose]
            if purpose == "ad_personalization":
                granted = granted and self.consented("ad_user_data", t + offset)
            self.record_consent(t + offset, purpose, "granted" if granted else "denied", source)
            withdrawal_rate = PREFERENCE_CENTER_WITHDRAWALS.get(purpose, 0.0)
            if granted and rng.random() < withdrawal_rate:
                later = t + rng.randint(DAY, max(DAY, self.clock.end - t))
                self.record_consent(later, purpose, "withdrawn", "preference_center")

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
        """The funnel from browsing to an order; the order's revenue, if there is one."""
        rng = self.rng
        products = [seen] if seen else []
        # Whether the visitor looks at products at all does not depend on where they land.
        engaged = cart is None and rng.random() < FUNNEL_VIEW
        if engaged and not products:
            if rng.random() < 0.5:
                session.browse()
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                product = PICK_PRODUCT.pick(rng)
                session.view_product(product)
                products.append(product)
        elif cart is None:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                session.browse()
        if products:
            self.viewed_products = True
        if engaged and rng.random() < FUNNEL_ADD * intent * self.person.propensity:
            cart = [(products[-1], rng.choice((1, 1, 1, 2)))]
            if rng.random() < 0.3:
                cart.append((PICK_PRODUCT.pick(rng), 1))
            for product, quantity in cart:
                session.add_to_cart(product, quantity)
        if not cart or not session.open:
            return None
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

    # -- email

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
        link_url = page_url(traffic.landing_path, traffic.query())
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

    # -- stores

    def store_trip(self, t: int) -> None:
        person, rng = self.person, self.rng
        loyalty_id = person.loyalty_id or ""
        email = person.email if not loyalty_id or rng.random() < 0.25 else ""
        registered = self.registered_at is not None and self.registered_at <= t
        # Members who show the app's barcode at the till are recognised by their account.
        user_id = person.user_id if loyalty_id and registered and rng.random() < 0.15 else ""
        stores = STORES_BY_STATE.get(person.address.state) or [store[0] for store in STORES]
        basket = [
            (PICK_PRODUCT.pick(rng), rng.choice((1, 1, 2))) for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        self.pos.append(
            (
                t,
                [
                    new_uuid(rng),
                    self.clock.iso(t),
                    "Order Completed",
                    user_id,
                    loyalty_id,
                    email,
                    f"POS-{rng.getrandbits(52):016d}",
                    rng.choice(stores),
                    f"{cart_value(basket):.2f}",
                    CURRENCY,
                ],
            )
        )
        self.note("pos", "user_id", user_id)
        self.note("pos", "loyalty_id", loyalty_id)
        self.note("pos", "email", email)
        if loyalty_id and email and not person.user_id and not self.pos_opt_in_asked:
            self.pos_opt_in_asked = True
            if rng.random() < POS_EMAIL_OPT_IN:
                self.record_consent(t + MINUTE, "email_marketing", "granted", "pos", user_id="")


# ----------------------------------------------------------------------------------------
# The files


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
        for campaign in EMAIL_CAMPAIGNS:
            delivered = ledger.delivered[(day, campaign.name)]
            if delivered:
                yield [
                    date,
                    "Email",
                    campaign.source,
                    "email",
                    campaign.name,
                    f"{delivered * EMAIL_COST_PER_SEND:.2f}",
                    CURRENCY,
                    delivered,
                    ledger.clicks[(day, campaign.name)],
                ]


class PopulationFiles:
    """The eight files, open for the whole run; people are appended as they are finished."""

    def __init__(self, out_dir: pathlib.Path):
        self.out_dir = out_dir
        self.counts = dict.fromkeys(FILES, 0)
        self.streams = {}
        self.writers = {}

    def __enter__(self) -> PopulationFiles:
        for name in self.counts:
            if name.endswith(".ndjson"):
                self.streams[name] = (self.out_dir / name).open("wb")
            else:
                stream = (self.out_dir / name).open("w", newline="", encoding="utf-8")
                self.streams[name] = stream
                self.writers[name] = csv.writer(stream, lineterminator="\n")
                self.writers[name].writerow(CSV_COLUMNS[name])
        return self

    def __exit__(self, *exc_info) -> None:
        for stream in self.streams.values():
            stream.close()

    def write_messages(self, name: str, messages: list[tuple[int, dict]]) -> None:
        if messages:
            self.streams[name].write(b"".join(orjson.dumps(m) + b"\n" for _, m in messages))
            self.counts[name] += len(messages)

    def write_rows(self, name: str, rows) -> None:
        rows = list(rows)
        self.writers[name].writerows(rows)
        self.counts[name] += len(rows)

    def write_person(self, sim: PersonSimulation) -> None:
        self.write_messages(WEB_FILE, sim.web)
        self.write_messages(APP_FILE, sim.app)
        self.write_messages(EMAIL_FILE, sim.email)
        self.write_rows(POS_FILE, (row for _, row in sim.pos))
        self.write_rows(CRM_FILE, sim.crm)
        self.write_rows(CONSENTS_FILE, (row for _, row in sim.consents))
        person_id = sim.person.person_id
        self.write_rows(
            GROUND_TRUTH_FILE,
            ([person_id, source, kind, value] for source, kind, value in sim.identifiers),
        )


def generate_population(
    customers: int,
    seed: int,
    out_dir: pathlib.Path,
    *,
    start: dt.date | None = None,
    days: int = 90,
) -> dict:
    """Write the population's files into `out_dir`; return the rows written per file.

    Timestamps fall in [start, start + days) UTC (start defaults to 2026-08-01).
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers: must be between 1 and {MAX_CUSTOMERS:,}")
    if days < 1:
        raise ValueError("days: must be at least 1")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(start or DEFAULT_START, days)
    ids = IdentifierSpace(seed)
    ledger = CampaignLedger()
    with PopulationFiles(out_dir) as files:
        for number in range(1, customers + 1):
            rng = random.Random(f"omnitrail-demo/{seed}/person/{number}")
            person = new_person(number, rng, ids)
            simulation = PersonSimulation(
                person, rng, clock, ledger, crm_records(person, rng, ids, number)
            )
            simulation.run()
            files.write_person(simulation)
        files.write_rows(
            AD_COSTS_FILE,
            ad_cost_rows(ledger, clock, random.Random(f"omnitrail-demo/{seed}/ad-costs")),
        )
    return dict(files.counts)
