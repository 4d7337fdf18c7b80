"""Which marketing channel a touch came through. Pure: no Django.

Rules are data, tried in order, the first that matches wins (GA4's default channel
grouping works the same way; `DEFAULT_RULES` follows it). A rule is a channel name and
conditions that must all hold; a condition is a field, an operator and a value:

    {"channel": "Paid Search", "all": [
        {"field": "source_category", "op": "equals", "value": "search"},
        {"field": "medium", "op": "matches", "value": "^(.*cp.*|ppc|retargeting|paid.*)$"}]}

Fields of a touch: `source_kind` (the integration: web, app, email, pos ...), `source`,
`medium`, `campaign` (the UTM parameters, lower-cased), `referrer_domain`,
`source_category` (search, social, video or shopping, from the UTM source or else the
referrer's domain), `click_id` (gclid, msclkid, fbclid, ttclid ... when the landing URL
carries one), `event`. Operators: equals, in, matches (a regular expression, searched
case-insensitively), present, absent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

SEARCH = (
    "google", "bing", "yahoo", "duckduckgo", "baidu", "yandex", "ecosia", "ask", "naver",
    "seznam", "qwant", "startpage", "search.brave",
)  # fmt: skip
SOCIAL = (
    "facebook", "fb", "instagram", "ig", "linkedin", "lnkd", "twitter", "t.co", "x.com",
    "pinterest", "reddit", "tiktok", "snapchat", "threads", "whatsapp", "messenger",
    "tumblr", "vk", "weibo", "quora", "discord", "telegram",
)  # fmt: skip
VIDEO = ("youtube", "youtu.be", "vimeo", "twitch", "dailymotion", "netflix")
SHOPPING = ("shopping", "amazon", "ebay", "etsy", "walmart", "shopify", "aliexpress")
CLICK_IDS = {
    "gclid": "google",
    "gbraid": "google",
    "wbraid": "google",
    "dclid": "google",
    "msclkid": "bing",
    "fbclid": "facebook",
    "ttclid": "tiktok",
    "li_fat_id": "linkedin",
    "twclid": "twitter",
    "epik": "pinterest",
}
PAID_MEDIUM = "^(.*cp.*|ppc|retargeting|paid.*)$"
FIELDS = (
    "source_kind",
    "source",
    "medium",
    "campaign",
    "referrer_domain",
    "source_category",
    "click_id",
    "event",
)
OPERATORS = ("equals", "in", "matches", "present", "absent")


def _is(field: str, value: str) -> dict[str, str]:
    return {"field": field, "op": "equals", "value": value}


def _matches(field: str, pattern: str) -> dict[str, str]:
    return {"field": field, "op": "matches", "value": pattern}


# GA4's default channel grouping, in its order, with In-store for POS sources first.
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"channel": "In-store", "all": [{"field": "source_kind", "op": "equals", "value": "pos"}]},
    # Marketing events say their channel themselves (an email click is Email wherever the
    # email platform's event arrives from).
    {"channel": "Email", "all": [_matches("event", "^(email|newsletter) ")]},
    {"channel": "Push", "all": [_matches("event", "^push notification ")]},
    {"channel": "SMS", "all": [_matches("event", "^sms ")]},
    {"channel": "Cross-network", "all": [_matches("campaign", "cross-network")]},
    {
        "channel": "Paid Shopping",
        "all": [_is("source_category", "shopping"), _matches("medium", PAID_MEDIUM)],
    },
    {
        "channel": "Paid Search",
        "all": [_is("source_category", "search"), _matches("medium", PAID_MEDIUM)],
    },
    {
        "channel": "Paid Search",
        "all": [
            {"field": "click_id", "op": "in", "value": ["gclid", "gbraid", "wbraid", "msclkid"]}
        ],
    },
    {
        "channel": "Paid Social",
        "all": [_is("source_category", "social"), _matches("medium", PAID_MEDIUM)],
    },
    {"channel": "Paid Social", "all": [_matches("medium", "^paid[_ -]?social$")]},
    {
        "channel": "Paid Video",
        "all": [_is("source_category", "video"), _matches("medium", PAID_MEDIUM)],
    },
    {
        "channel": "Display",
        "all": [_matches("medium", "^(display|banner|expandable|interstitial|cpm)$")],
    },
    {"channel": "Display", "all": [{"field": "click_id", "op": "equals", "value": "dclid"}]},
    {"channel": "Paid Other", "all": [_matches("medium", PAID_MEDIUM)]},
    {"channel": "Organic Shopping", "all": [_is("source_category", "shopping")]},
    {"channel": "Organic Social", "all": [_is("source_category", "social")]},
    {
        "channel": "Organic Social",
        "all": [_matches("medium", "^(social|social[_ -]network|social[_ -]media|sm)$")],
    },
    {"channel": "Organic Video", "all": [_is("source_category", "video")]},
    {"channel": "Organic Search", "all": [_is("source_category", "search")]},
    {"channel": "Organic Search", "all": [_is("medium", "organic")]},
    {"channel": "Email", "all": [_matches("source", "^(email|e[-_ ]?mail)$")]},
    {"channel": "Email", "all": [_matches("medium", "^(email|e[-_ ]?mail|newsletter)$")]},
    {"channel": "Email", "all": [_is("source_kind", "email")]},
    {"channel": "Affiliates", "all": [_matches("medium", "^affiliates?$")]},
    {"channel": "SMS", "all": [_matches("source", "^sms$")]},
    {"channel": "SMS", "all": [_matches("medium", "^sms$")]},
    {"channel": "Push", "all": [_matches("medium", "(push$|mobile|notification)")]},
    {"channel": "Audio", "all": [_matches("medium", "^(audio|podcast)$")]},
    {"channel": "Referral", "all": [_matches("medium", "^(referral|app|link)$")]},
    {"channel": "Referral", "all": [{"field": "referrer_domain", "op": "present"}]},
    {
        "channel": "Direct",
        "all": [{"field": "source", "op": "absent"}, {"field": "medium", "op": "absent"}],
    },
)
UNASSIGNED = "Unassigned"


class InvalidRule(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    channel: str
    conditions: tuple[tuple[str, str, Any], ...]


def compile_rules(rules: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Check rules (as stored in the admin) and prepare them; InvalidRule names the rule
    and condition at fault."""
    compiled = []
    for number, rule in enumerate(rules, start=1):
        channel = rule.get("channel")
        if not isinstance(channel, str) or not channel.strip():
            raise InvalidRule(f"rule {number}: needs a channel name")
        conditions = []
        for position, condition in enumerate(rule.get("all") or [], start=1):
            where = f"rule {number} ({channel}), condition {position}"
            field, op, value = condition.get("field"), condition.get("op"), condition.get("value")
            if field not in FIELDS:
                raise InvalidRule(f"{where}: field must be one of {', '.join(FIELDS)}")
            if op not in OPERATORS:
                raise InvalidRule(f"{where}: op must be one of {', '.join(OPERATORS)}")
            if op == "matches":
                try:
                    value = re.compile(str(value), re.IGNORECASE)
                except re.error as error:
                    raise InvalidRule(f"{where}: not a regular expression ({error})") from None
            elif op == "in":
                if not isinstance(value, list):
                    raise InvalidRule(f"{where}: 'in' needs a list")
                value = frozenset(str(v).lower() for v in value)
            elif op == "equals":
                value = str(value).lower()
            conditions.append((field, op, value))
        compiled.append(Rule(channel.strip(), tuple(conditions)))
    return tuple(compiled)


def _split(url: str) -> SplitResult | None:
    """The URL's parts, or None when it cannot be parsed (e.g. `http://[abc/`, a broken
    IPv6 host): a browser's malformed referrer must not stop a refresh."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _domain(url: str) -> str:
    parts = _split(url) if "//" in url else None
    host = (parts.hostname or "") if parts else ""
    return host.removeprefix("www.").removeprefix("m.").lower()


def _category(name: str) -> str:
    if not name:
        return ""
    for category, names in (
        ("shopping", SHOPPING),
        ("video", VIDEO),
        ("social", SOCIAL),
        ("search", SEARCH),
    ):
        if any(name == n or name.startswith(f"{n}.") or f".{n}." in f".{name}." for n in names):
            return category
    return ""


def touch_fields(
    *,
    source_kind: str = "",
    utm_source: str = "",
    utm_medium: str = "",
    utm_campaign: str = "",
    referrer: str = "",
    page_url: str = "",
    event: str = "",
    own_domains: Sequence[str] = (),
) -> dict[str, str]:
    """The fields rules look at, from a touchpoint's columns. A referrer on one of
    `own_domains` (the site itself) is no referrer."""
    referrer_domain = _domain(referrer) if referrer else ""
    if referrer_domain and any(
        referrer_domain == d or referrer_domain.endswith(f".{d}") for d in own_domains
    ):
        referrer_domain = ""
    parts = _split(page_url) if "?" in page_url else None
    query = parse_qs(parts.query) if parts else {}
    click_id = next((name for name in CLICK_IDS if name in query), "")
    source = utm_source.strip().lower()
    category = (
        _category(source) or _category(referrer_domain) or _category(CLICK_IDS.get(click_id, ""))
    )
    return {
        "source_kind": source_kind.lower(),
        "source": source,
        "medium": utm_medium.strip().lower(),
        "campaign": utm_campaign.strip().lower(),
        "referrer_domain": referrer_domain,
        "source_category": category,
        "click_id": click_id,
        "event": event,
    }


def _holds(condition: tuple[str, str, Any], fields: Mapping[str, str]) -> bool:
    field, op, value = condition
    actual = fields.get(field, "")
    if op == "present":
        return bool(actual)
    if op == "absent":
        return not actual
    if op == "equals":
        return bool(actual.lower() == value)
    if op == "in":
        return actual.lower() in value
    return bool(actual) and value.search(actual) is not None


def classify(fields: Mapping[str, str], rules: Sequence[Rule]) -> str:
    """The channel of the first rule whose conditions all hold; Unassigned when none."""
    for rule in rules:
        if all(_holds(condition, fields) for condition in rule.conditions):
            return rule.channel
    return UNASSIGNED


@lru_cache(maxsize=1)
def default_rules() -> tuple[Rule, ...]:
    return compile_rules(DEFAULT_RULES)
