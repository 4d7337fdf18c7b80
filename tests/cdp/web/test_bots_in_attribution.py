"""Bots' and crawlers' events are stored (flagged) but attribution leaves them out, unless
OMNITRAIL_ATTRIBUTE_BOTS says otherwise."""

import pytest

from attribution.selectors.journeys import touch_frame
from cdp.models import Touchpoint

pytestmark = pytest.mark.django_db

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def visits(deliver):
    url = "https://shop.example.com/?utm_source=google&utm_medium=cpc"
    page = {"url": url}
    deliver(
        {"type": "page", "userId": "crawler", "context": {"userAgent": GOOGLEBOT, "page": page}},
        {"type": "page", "userId": "ann", "context": {"userAgent": FIREFOX, "page": page}},
    )
    flags = dict(Touchpoint.objects.values_list("user_id", "is_bot"))
    assert flags == {"crawler": True, "ann": False}
    return {row.user_id: row.profile_id for row in Touchpoint.objects.all()}


def test_bots_touches_are_left_out_of_attribution_by_default(visits):
    frame = touch_frame()
    assert list(frame["profile_id"]) == [visits["ann"]]


def test_a_setting_puts_them_back(visits, settings):
    settings.OMNITRAIL_ATTRIBUTE_BOTS = True
    frame = touch_frame()
    assert sorted(frame["profile_id"]) == sorted(visits.values())
