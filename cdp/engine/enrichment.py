"""What Omnitrail adds to an event from what it carries: the browser, OS and device type
from its user agent, whether a bot sent it, an amount written for people ("$19.99",
"19,99 €") as a number, a currency in any spelling as its ISO 4217 code, an IP address
with its host part dropped.

Pure: no Django. Maintained lists do the work — ua-parser's regexes (browser, OS,
device), crawlerdetect's bot patterns, price-parser for amounts, pycountry's ISO 4217
table — and the answers for user agents are cached, since a site's visitors send few
distinct ones.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry
from crawlerdetect import CrawlerDetect
from price_parser import Price
from ua_parser import parse as parse_ua

_crawlers = CrawlerDetect()
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class UserAgent:
    browser: str
    os: str
    device_type: str  # desktop, mobile, tablet, bot or "" when unknown
    is_bot: bool


_TABLET_FAMILIES = ("ipad", "tablet", "kindle", "galaxy tab", "nexus 7", "nexus 9", "nexus 10")
_MOBILE_OS = ("ios", "android", "windows phone", "blackberry os", "kaios", "firefox os")


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> UserAgent:
    """Browser and OS family names as ua-parser gives them ("Chrome", "Mac OS X"), a
    device type derived from its device and OS families, and crawlerdetect's verdict."""
    if not user_agent:
        return UserAgent("", "", "", False)
    parsed = parse_ua(user_agent[:2048])
    browser = parsed.user_agent.family if parsed.user_agent else ""
    os = parsed.os.family if parsed.os else ""
    device = (parsed.device.family if parsed.device else "").lower()
    is_bot = device == "spider" or bool(_crawlers.isCrawler(user_agent[:2048]))
    if is_bot:
        device_type = "bot"
    elif any(name in device for name in _TABLET_FAMILIES) or (
        os.lower() == "android" and "mobile" not in user_agent.lower()
    ):
        device_type = "tablet"
    elif os.lower() in _MOBILE_OS or "mobile" in device or device in ("iphone", "ipod"):
        device_type = "mobile"
    elif os and os != "Other":
        device_type = "desktop"
    else:
        device_type = ""
    return UserAgent(
        "" if browser == "Other" else browser[:100],
        "" if os == "Other" else os[:100],
        device_type,
        is_bot,
    )


class UnreadableAmount(ValueError):
    pass


def read_amount(value: Any) -> tuple[Decimal, str | None]:
    """An amount as a number to the cent, and the currency text written beside it, if
    any ("$19.99" → 19.99, "$"; "19,99 €" → 19.99, "€"; 1e3 → 1000.00).
    UnreadableAmount when there is no number in it."""
    if isinstance(value, bool) or value is None:
        raise UnreadableAmount(value)
    if isinstance(value, int | float | Decimal):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise UnreadableAmount(value) from None
        currency = None
    elif isinstance(value, str):
        text = value.strip()[:100]
        negative = text.startswith("-") or text.startswith("−") or "(-" in text
        price = Price.fromstring(text)
        if price.amount is None:
            raise UnreadableAmount(value)
        amount = -abs(price.amount) if negative else price.amount
        currency = price.currency
    else:
        raise UnreadableAmount(value)
    if not amount.is_finite():
        raise UnreadableAmount(value)
    try:
        return amount.quantize(_CENT), currency
    except InvalidOperation:  # more digits than the context holds: far beyond any bound
        raise UnreadableAmount(value) from None


def currency_code(value: Any) -> str | None:
    """The ISO 4217 code for a code in any case ("usd"), a numeric code (840, "036") or a
    code with a symbol written beside it ("US$" is not one: None). None when unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = f"{value:03d}"
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit() and len(text) <= 3:
        found = pycountry.currencies.get(numeric=text.zfill(3))
    elif len(text) == 3 and text.isalpha():
        found = pycountry.currencies.get(alpha_3=text.upper())
    else:
        found = None
    return found.alpha_3 if found is not None else None


def anonymize_ip(address: str) -> str:
    """The network part only: an IPv4 address's last octet and an IPv6 address's last
    80 bits set to zero (as Google Analytics anonymises)."""
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
