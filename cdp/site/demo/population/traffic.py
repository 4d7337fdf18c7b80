"""Where a website visit comes from: channels, referrers, paid campaigns and their UTM tags."""

from __future__ import annotations

import random
from dataclasses import dataclass
from urllib.parse import urlencode

from cdp.site.demo.population.chance import WeightedChoice

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

PICK_CHANNEL = WeightedChoice(CHANNEL_MIX)

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
