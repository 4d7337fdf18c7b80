"""Channel classification: GA4's default grouping as data, first matching rule wins."""

import pytest

from attribution.engine.channels import (
    DEFAULT_RULES,
    InvalidRule,
    classify,
    compile_rules,
    default_rules,
    touch_fields,
)


def channel(**touch):
    return classify(touch_fields(own_domains=["shop.example.com"], **touch), default_rules())


@pytest.mark.parametrize(
    ("touch", "expected"),
    [
        ({}, "Direct"),
        ({"source_kind": "pos", "event": "Order Completed"}, "In-store"),
        ({"utm_source": "google", "utm_medium": "cpc"}, "Paid Search"),
        ({"page_url": "https://shop.example.com/?gclid=abc123"}, "Paid Search"),
        ({"utm_source": "bing", "utm_medium": "ppc"}, "Paid Search"),
        ({"referrer": "https://www.google.com/"}, "Organic Search"),
        ({"utm_source": "google", "utm_medium": "organic"}, "Organic Search"),
        ({"utm_source": "facebook", "utm_medium": "paid_social"}, "Paid Social"),
        ({"utm_source": "instagram", "utm_medium": "cpc"}, "Paid Social"),
        ({"utm_source": "newsletter", "utm_medium": "paid_social"}, "Paid Social"),
        ({"referrer": "https://l.facebook.com/"}, "Organic Social"),
        ({"referrer": "https://t.co/xyz"}, "Organic Social"),
        ({"utm_source": "youtube", "utm_medium": "cpv-paid"}, "Paid Video"),
        ({"referrer": "https://www.youtube.com/watch"}, "Organic Video"),
        ({"utm_source": "gdn", "utm_medium": "display"}, "Display"),
        ({"utm_source": "criteo", "utm_medium": "cpm"}, "Display"),
        ({"utm_source": "newsletter", "utm_medium": "email"}, "Email"),
        ({"source_kind": "email", "event": "Email Opened"}, "Email"),
        ({"source_kind": "web", "event": "Email Link Clicked"}, "Email"),
        ({"source_kind": "app", "event": "Push Notification Opened"}, "Push"),
        ({"utm_source": "partner-blog", "utm_medium": "affiliate"}, "Affiliates"),
        ({"utm_source": "sms", "utm_medium": "text"}, "SMS"),
        ({"utm_source": "app", "utm_medium": "push"}, "Push"),
        ({"utm_source": "amazon", "utm_medium": "cpc"}, "Paid Shopping"),
        ({"utm_campaign": "Summer Cross-Network PMax", "utm_medium": "cpc"}, "Cross-network"),
        ({"referrer": "https://news.example.org/story"}, "Referral"),
        # The site's own pages are no referral.
        ({"referrer": "https://shop.example.com/cart"}, "Direct"),
        ({"utm_source": "mystery", "utm_medium": "carrier-pigeon"}, "Unassigned"),
        # A malformed URL (a broken IPv6 host) says nothing; it does not stop a refresh.
        ({"referrer": "http://[abc/x"}, "Direct"),
        (
            {"page_url": "http://[abc/x?gclid=1", "utm_source": "google", "utm_medium": "cpc"},
            "Paid Search",
        ),
    ],
)
def test_default_grouping(touch, expected):
    assert channel(**touch) == expected


def test_rules_are_data_the_first_match_wins_and_staff_can_add_their_own():
    rules = compile_rules(
        [
            {"channel": "Podcast", "all": [{"field": "source", "op": "in", "value": ["spotify"]}]},
            *DEFAULT_RULES,
        ]
    )
    fields = touch_fields(utm_source="spotify", utm_medium="cpc")
    assert classify(fields, rules) == "Podcast"
    assert classify(fields, default_rules()) == "Paid Other"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"all": []}, "rule 1: needs a channel name"),
        ({"channel": "X", "all": [{"field": "colour", "op": "equals", "value": "red"}]}, "field"),
        ({"channel": "X", "all": [{"field": "medium", "op": "like", "value": "a"}]}, "op must"),
        ({"channel": "X", "all": [{"field": "medium", "op": "matches", "value": "("}]}, "regular"),
        ({"channel": "X", "all": [{"field": "medium", "op": "in", "value": "cpc"}]}, "list"),
    ],
)
def test_bad_rules_are_refused_naming_the_rule_and_condition(rule, message):
    with pytest.raises(InvalidRule, match=message):
        compile_rules([rule])
