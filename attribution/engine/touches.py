"""Touch rows in columns: which rows are touches, and the channel of each row. Pure:
NumPy and pandas, no Django.

The channel rules read seven fields of a touch (the source's kind, the three UTM
parameters, the referrer's domain, the landing page's click id, the event), and millions
of touch rows hold a few thousand distinct combinations of them: `channel_codes`
classifies each combination once and hands every row the code of its channel. Text
columns come as dictionary codes (one integer per row) and the names they stand for,
the way the touch reader (attribution.selectors.journeys) gets them from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from attribution.engine.channels import CLICK_IDS, Rule, classify, touch_fields

# Events that are marketing touches; page and screen views are touches too.
MARKETING_EVENTS = (
    "Email Opened",
    "Email Link Clicked",
    "Push Notification Opened",
    "Ad Clicked",
    "SMS Link Clicked",
)
TOUCH_TYPES = ("page", "screen")

# A text column: per row, a code into its names.
Codes = tuple[np.ndarray, list[str]]

# Why raw referrers and page URLs can be shortened before classifying them: touch_fields
# reads a referrer only for its host, and urlsplit finds the host right after the first
# "//", up to the next / ? or #, so nothing after that counts.
_END_OF_HOST = re.compile("[/?#]")
# A page URL counts only for which click-id parameters have a value (parse_qs drops
# empty ones). A URL naming none of them (nor any %-escape that could spell one) has no
# click id; in the others every value, up to the next & # ? or a byte urlsplit removes,
# can stand as "x", which makes the gclid=<unique> landing pages a few distinct strings.
_CLICK_ID_OR_ESCAPE = re.compile("|".join([*map(re.escape, CLICK_IDS), "%"]))
_QUERY_VALUE = re.compile(r"=[^&#?\t\r\n]+")


def referrer_host(referrer: str) -> str:
    """The referrer up to the end of its host: the same referrer_domain, fewer values."""
    start = referrer.find("//")
    if start < 0:
        return ""
    end = _END_OF_HOST.search(referrer, start + 2)
    return referrer if end is None else referrer[: end.start()]


def click_id_query(url: str) -> str:
    """The page URL with its query values blanked ("" without a click id): the same
    click_id, fewer values."""
    if "?" not in url or not _CLICK_ID_OR_ESCAPE.search(url):
        return ""
    return _QUERY_VALUE.sub("=x", url)


def field_codes(codes: np.ndarray, names: list[str], field: Callable[[str], object]) -> Codes:
    """Per row, a code for `field(raw value)`, and for each such field value one raw
    value that gives it (to stand for all of them)."""
    found, _ = pd.factorize(pd.Series([field(name) for name in names], dtype=object))
    standing = dict(zip(found.tolist(), names, strict=True))
    return found.astype(np.int32)[codes], [standing[c] for c in range(len(standing))]


def combine_codes(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One code per distinct combination of `parts` (non-negative codes, one per row),
    numbered in order of first appearance, and the first row of each."""
    key = np.zeros(len(parts[0]), dtype=np.int64)
    size = 1
    for part in parts:
        width = int(part.max()) + 1 if len(part) else 1
        if size * width >= 2**62:
            key, uniques = pd.factorize(key)
            key, size = key.astype(np.int64), len(uniques)
        key = key * width + part
        size *= width
    key = pd.factorize(key)[0].astype(np.int64)
    # In order of first appearance, a code first appears where the running maximum rises.
    first = np.flatnonzero(np.diff(np.maximum.accumulate(key), prepend=-1) > 0)
    return key, first


# The argument of touch_fields each text column is, and the field it gives.
_FIELDS = {
    "source_kind": "source_kind",
    "utm_source": "source",
    "utm_medium": "medium",
    "utm_campaign": "campaign",
    "referrer": "referrer_domain",
    "page_url": "click_id",
    "event": "event",
}


def channel_codes(columns: dict[str, Codes], own: Sequence[str], rules: Sequence[Rule]) -> Codes:
    """Each row's channel (codes and names), classifying each distinct combination of
    what the rules read once. `columns` holds the arguments of touch_fields (source_kind,
    utm_source, utm_medium, utm_campaign, referrer, page_url, event) as codes and names;
    `own` are the site's own domains. touch_fields derives each field from its own
    argument (the source category from source, referrer host and click id together), so
    raw values that give the same field are interchangeable: one stands for all."""
    own = list(own)
    fields = {}
    for argument, (codes, names) in columns.items():

        def field(value: str, argument: str = argument) -> str:
            return touch_fields(**{argument: value}, own_domains=own)[_FIELDS[argument]]

        fields[argument] = field_codes(codes, names, field)
    combination, first = combine_codes([codes for codes, _ in fields.values()])
    found = [
        classify(
            touch_fields(
                **{argument: names[codes[row]] for argument, (codes, names) in fields.items()},
                own_domains=own,
            ),
            rules,
        )
        for row in first
    ]
    channels, channel_names = pd.factorize(pd.Series(found, dtype=object))
    codes = channels.astype(np.int64)[combination] if len(found) else combination
    return codes, [str(name) for name in channel_names]
