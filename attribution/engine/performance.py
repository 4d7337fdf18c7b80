"""Channel performance: per channel and campaign, per month and over any range of months,
what budget decisions rest on — reach, frequency, impressions, clicks, CTR, CPC, CPM,
visits and engaged visits, post-click conversions and their rate, CPA — and the email
figures (delivered, opened, clicked, unsubscribed, bounced and their rates). Pure: NumPy.

The attribution run keeps per line (channel and campaign) and month the counts taken from
the touch rows and journeys (`line_figures`, `post_click`, `credited_by_line`,
`email_figures`); `performance_report` reads any range back from them and the costs
(with the impressions and clicks the cost imports carry), as the monthly report does.

- **Reach**: distinct profiles touched (by a view or a marketing event) on the line,
  distinct over the range; **frequency** = touchpoints / reach.
- **Visits** (sessions): touches that start a visit (GA4's rule, as the journeys cut
  them: a Direct view within 30 minutes of the profile's previous touch continues it);
  a visit is **engaged** when it has two views or more, or a conversion during it.
- **Impressions, clicks, cost** from the cost imports: CTR = clicks / impressions,
  CPC = cost / clicks, CPM = cost / impressions × 1,000.
- **Post-click conversions**: conversions whose journey had a touch of the line (each
  conversion once per line, in the month of the conversion), with their revenue; the
  post-click rate = post-click conversions / clicks.
- **Conversions and revenue** credited by the model; CPA = cost / those conversions,
  ROAS = their revenue / cost.
- **Email** from Segment's email events per campaign (`campaign_name`): delivered,
  opened, clicked (Email Link Clicked), unsubscribed, bounced; open rate, click rate and
  unsubscribe rate over delivered, click-to-open over opened, bounce rate over sent
  (delivered + bounced).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from attribution.engine.journeys import SESSION_TIMEOUT, Journeys, channel_totals
from attribution.engine.monthly import _previous_months, _reach_rows, months_between, profiles_in

EMAIL_EVENTS = {
    "Email Delivered": "delivered",
    "Email Opened": "opened",
    "Email Link Clicked": "clicked",
    "Unsubscribed": "unsubscribed",
    "Email Bounced": "bounced",
}
EMAIL_COUNTS = tuple(EMAIL_EVENTS.values())
SEARCH_CHANNELS = ("Paid Search", "Organic Search")
SOCIAL_CHANNELS = ("Paid Social", "Organic Social")
EMAIL_CHANNEL = "Email"
# Owned channels: what they cost (an email platform's fee) is not pay-per-click, so
# they are not in the PPC section even with cost recorded; email has its own.
OWNED_CHANNELS = frozenset({"Email", "SMS", "Push", "In-store", "Direct"})


# --- what the run keeps -----------------------------------------------------------------


def visits(
    *,
    profile: np.ndarray,
    at: np.ndarray,
    conversion: np.ndarray,
    channel: np.ndarray,
    direct: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row (sorted by profile and time; `at` in int64 nanoseconds): whether it starts
    a visit, and whether that visit is engaged (two views or more, or a conversion before
    the next visit and within the timeout of its last row). `direct`: Direct's channel
    code (-1: none)."""
    n = len(profile)
    touch = np.flatnonzero(~conversion)
    continues = np.zeros(n, dtype=bool)
    timeout = SESSION_TIMEOUT // timedelta(microseconds=1) * 1_000
    if len(touch) > 1:
        same = profile[touch[1:]] == profile[touch[:-1]]
        soon = at[touch[1:]] - at[touch[:-1]] < timeout
        continues[touch[1:]] = same & soon & (channel[touch[1:]] == direct)
    start = ~conversion & ~continues
    rows = np.arange(n)
    # Each row's visit: the profile's last visit start at or before it (if any).
    last_start = np.maximum.accumulate(np.where(start, rows, -1)) if n else rows
    has_visit = (last_start >= 0) & (profile[np.maximum(last_start, 0)] == profile)
    visit = np.cumsum(start) - 1
    count = int(start.sum())
    views = np.bincount(visit[has_visit & ~conversion], minlength=count)
    # A conversion is inside its visit when it comes within the timeout of the visit's
    # last touch.
    last_touch = np.maximum.accumulate(np.where(~conversion, rows, -1)) if n else rows
    inside = conversion & has_visit & (at - at[np.maximum(last_touch, 0)] < timeout)
    converted = np.bincount(visit[inside], minlength=count) > 0
    engaged = np.zeros(n, dtype=bool)
    engaged[start] = (views >= 2) | converted
    return start, engaged


def line_figures(
    *,
    profile: np.ndarray,
    month: np.ndarray,
    line: np.ndarray,
    start: np.ndarray,
    engaged: np.ndarray,
    lines: Sequence[tuple[str, str]],
    months: Sequence[str],
) -> dict[str, Any]:
    """Per line (channel, campaign) and month: touchpoints, visits and engaged visits,
    and the previous-month counts that give distinct profiles over any range. One entry
    per touch row (conversions left out); `line` indexes `lines`, `month` `months`."""
    size = len(months)
    flat = np.asarray(line, dtype=np.int64) * size + np.asarray(month, dtype=np.int64)
    shape = (len(lines), size)
    touchpoints = np.bincount(flat, minlength=len(lines) * size).reshape(shape)
    sessions = np.bincount(flat[start], minlength=len(lines) * size).reshape(shape)
    engaged_n = np.bincount(flat[engaged], minlength=len(lines) * size).reshape(shape)
    reach = _previous_months(
        np.asarray(line, dtype=np.int64),
        np.asarray(profile, dtype=np.int64),
        np.asarray(month, dtype=np.int64),
        len(lines),
        size,
    )
    kept: dict[str, Any] = {}
    reached: dict[str, Any] = {}
    for i, m in zip(*np.nonzero(touchpoints), strict=True):
        channel, campaign = lines[i]
        kept.setdefault(channel, {}).setdefault(campaign, {})[months[m]] = {
            "touchpoints": int(touchpoints[i, m]),
            "sessions": int(sessions[i, m]),
            "engaged_sessions": int(engaged_n[i, m]),
        }
    for i, (channel, campaign) in enumerate(lines):
        if reach[i].any():
            reached.setdefault(channel, {})[campaign] = _reach_rows(reach[i], months)
    return {"lines": kept, "reach": reached}


def post_click(
    journeys: Journeys,
    campaigns: Sequence[str],
    journey_month: np.ndarray,
    months: Sequence[str],
) -> dict[str, Any]:
    """Per line and conversion month: the conversions whose journey touched the line
    (each once per line) and their value. `campaigns`: each touch's campaign."""
    names, campaign_of = np.unique(
        np.asarray(campaigns, dtype=object).astype(str), return_inverse=True
    )
    journey = journeys.journey_of_touch()
    converted = journeys.converted[journey]
    line = journeys.touches.astype(np.int64) * len(names) + campaign_of
    pairs = np.unique(np.stack([journey[converted], line[converted]]), axis=1)
    size = len(months)
    month = np.asarray(journey_month, dtype=np.int64)[pairs[0]] if pairs.size else pairs[0]
    flat = pairs[1] * size + month
    total = len(journeys.channels) * len(names) * size
    counts = np.bincount(flat, minlength=total)
    value = np.bincount(flat, weights=journeys.value[pairs[0]], minlength=total)
    table: dict[str, Any] = {}
    for key in np.flatnonzero(counts):
        rest, m = divmod(int(key), size)
        c, k = divmod(rest, len(names))
        table.setdefault(journeys.channels[c], {}).setdefault(str(names[k]), {})[months[m]] = {
            "conversions": int(counts[key]),
            "revenue": round(float(value[key]), 2),
        }
    return table


def credited_by_line(
    journeys: Journeys,
    shares: np.ndarray,
    campaigns: Sequence[str],
    journey_month: np.ndarray,
    months: Sequence[str],
) -> dict[str, Any]:
    """Per line and conversion month: the conversions and revenue a model credits."""
    names, campaign_of = np.unique(
        np.asarray(campaigns, dtype=object).astype(str), return_inverse=True
    )
    size = len(months)
    touch_month = np.asarray(journey_month, dtype=np.int64)[journeys.journey_of_touch()]
    keys = (journeys.touches.astype(np.int64) * len(names) + campaign_of) * size + touch_month
    conversions, value = channel_totals(
        journeys, shares, groups=keys, size=len(journeys.channels) * len(names) * size
    )
    table: dict[str, Any] = {}
    for key in np.flatnonzero(conversions):
        rest, m = divmod(int(key), size)
        c, k = divmod(rest, len(names))
        table.setdefault(journeys.channels[c], {}).setdefault(str(names[k]), {})[months[m]] = {
            "conversions": round(float(conversions[key]), 6),
            "revenue": round(float(value[key]), 2),
        }
    return table


def email_figures(
    *, event: Sequence[str], campaign: Sequence[str], month: Sequence[str]
) -> dict[str, Any]:
    """Per email campaign and month, how many of each email event (EMAIL_EVENTS)."""
    table: dict[str, Any] = {}
    for name, where, when in zip(event, campaign, month, strict=True):
        counts = table.setdefault(where, {}).setdefault(when, dict.fromkeys(EMAIL_COUNTS, 0))
        counts[EMAIL_EVENTS[name]] += 1
    return table


# --- a range of months, read back -------------------------------------------------------


def _ratio(top: float, bottom: float, scale: float = 1.0, digits: int = 4) -> float | None:
    return round(top / bottom * scale, digits) if bottom else None


def _line_row(figures: dict[str, float], reach: int, cost: Mapping[str, float]) -> dict[str, Any]:
    impressions, clicks, spent = (
        cost.get("impressions", 0),
        cost.get("clicks", 0),
        cost.get("cost", 0.0),
    )
    conversions, revenue = figures["conversions"], figures["revenue"]
    return {
        "reach": reach,
        "touchpoints": int(figures["touchpoints"]),
        "frequency": _ratio(figures["touchpoints"], reach, digits=2),
        "impressions": int(impressions),
        "clicks": int(clicks),
        "ctr": _ratio(clicks, impressions),
        "cost": round(spent, 2),
        "cpc": _ratio(spent, clicks, digits=2),
        "cpm": _ratio(spent, impressions, 1000, digits=2),
        "sessions": int(figures["sessions"]),
        "engaged_sessions": int(figures["engaged_sessions"]),
        "engagement_rate": _ratio(figures["engaged_sessions"], figures["sessions"]),
        "post_click_conversions": int(figures["post_click_conversions"]),
        "post_click_revenue": round(figures["post_click_revenue"], 2),
        "post_click_rate": _ratio(figures["post_click_conversions"], clicks),
        "session_conversion_rate": _ratio(figures["post_click_conversions"], figures["sessions"]),
        "conversions": round(conversions, 4),
        "revenue": round(revenue, 2),
        "cpa": _ratio(spent, conversions, digits=2) if spent else None,
        "roas": _ratio(revenue, spent) if spent else None,
    }


_ZERO = {
    "touchpoints": 0,
    "sessions": 0,
    "engaged_sessions": 0,
    "post_click_conversions": 0,
    "post_click_revenue": 0.0,
    "conversions": 0.0,
    "revenue": 0.0,
}


def performance_report(
    kept: Mapping[str, Any],
    *,
    model: str,
    start: str,
    end: str,
    costs: Mapping[tuple[str, str, str], Mapping[str, float]],
    channel_reach: Mapping[str, Any],
) -> dict[str, Any]:
    """The channel performance of months start..end under `model`, from what the run
    kept (`kept`: lines, reach, post_click, credited, email) and the costs per (channel,
    campaign, month) with their impressions and clicks. `channel_reach`: the monthly
    report's previous-month counts per channel (distinct profiles over campaigns)."""
    months = months_between(start, end)
    credited = kept.get("credited", {}).get(model, {})
    sources = (kept.get("lines", {}), kept.get("post_click", {}), credited)
    names = sorted(
        {(c, k) for source in sources for c, rows in source.items() for k in rows}
        | {(c, k) for c, k, m in costs if m in months}
    )

    def cell(channel: str, campaign: str, month: str) -> dict[str, float]:
        touched = kept.get("lines", {}).get(channel, {}).get(campaign, {}).get(month, {})
        clicked = kept.get("post_click", {}).get(channel, {}).get(campaign, {}).get(month, {})
        got = credited.get(channel, {}).get(campaign, {}).get(month, {})
        return {
            **_ZERO,
            **touched,
            "post_click_conversions": clicked.get("conversions", 0),
            "post_click_revenue": clicked.get("revenue", 0.0),
            "conversions": got.get("conversions", 0.0),
            "revenue": got.get("revenue", 0.0),
        }

    def summed(cells: list[dict[str, float]]) -> dict[str, float]:
        return {name: sum(c[name] for c in cells) for name in _ZERO}

    def cost_of(keys: list[tuple[str, str, str]]) -> dict[str, float]:
        return {
            name: sum(costs.get(key, {}).get(name, 0) or 0 for key in keys)
            for name in ("cost", "impressions", "clicks")
        }

    by_campaign, by_channel, by_month = [], [], []
    line_reach = kept.get("reach", {})
    for channel, campaign in names:
        figures = summed([cell(channel, campaign, m) for m in months])
        reach = profiles_in(line_reach.get(channel, {}).get(campaign, {}), start, end)
        spent = cost_of([(channel, campaign, m) for m in months])
        row = {"channel": channel, "campaign": campaign, **_line_row(figures, reach, spent)}
        if _anything(row):
            by_campaign.append(row)
        for month in months:
            figures_m = cell(channel, campaign, month)
            reach_m = profiles_in(line_reach.get(channel, {}).get(campaign, {}), month, month)
            row_m = _line_row(figures_m, reach_m, cost_of([(channel, campaign, month)]))
            if _anything(row_m):
                by_month.append({"month": month, "channel": channel, "campaign": campaign, **row_m})
    for channel in sorted({c for c, _ in names}):
        campaigns = [k for c, k in names if c == channel]
        figures = summed([cell(channel, k, m) for k in campaigns for m in months])
        reach = profiles_in(channel_reach.get(channel, {}), start, end)
        spent = cost_of([(channel, k, m) for k in campaigns for m in months])
        row = {"channel": channel, **_line_row(figures, reach, spent)}
        if _anything(row):
            by_channel.append(row)
    email = _email_rows(kept.get("email", {}), months, credited)
    paid = {
        row["channel"]
        for row in by_channel
        if (row["cost"] > 0 or row["impressions"] > 0) and row["channel"] not in OWNED_CHANNELS
    }

    def order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: (-r["revenue"], r["channel"], r.get("campaign", "")))

    return {
        "model": model,
        "start": start,
        "end": end,
        "months": months,
        "by_channel": order(by_channel),
        "by_campaign": order(by_campaign),
        "by_month": by_month,
        "email": email,
        "sections": {
            "ppc": order([r for r in by_campaign if r["channel"] in paid]),
            "email": email["campaigns"],
            "social": order([r for r in by_channel if r["channel"] in SOCIAL_CHANNELS]),
            "search": order([r for r in by_channel if r["channel"] in SEARCH_CHANNELS]),
        },
    }


def _anything(row: Mapping[str, Any]) -> bool:
    return any(
        row[k]
        for k in (
            "touchpoints",
            "cost",
            "impressions",
            "clicks",
            "conversions",
            "post_click_conversions",
        )
    )


def _email_row(counts: Mapping[str, int], conversions: float, revenue: float) -> dict[str, Any]:
    delivered, opened, clicked = counts["delivered"], counts["opened"], counts["clicked"]
    return {
        **{name: int(counts[name]) for name in EMAIL_COUNTS},
        "open_rate": _ratio(opened, delivered),
        "click_rate": _ratio(clicked, delivered),
        "click_to_open_rate": _ratio(clicked, opened),
        "unsubscribe_rate": _ratio(counts["unsubscribed"], delivered),
        "bounce_rate": _ratio(counts["bounced"], delivered + counts["bounced"]),
        "conversions": round(conversions, 4),
        "revenue": round(revenue, 2),
    }


def _email_rows(
    events: Mapping[str, Any], months: list[str], credited: Mapping[str, Any]
) -> dict[str, Any]:
    """Per email campaign over the range and per month: the email events and their
    rates, with the conversions and revenue the model credits to the Email channel's
    line of the same campaign."""
    email_credit = credited.get(EMAIL_CHANNEL, {})

    def counted(campaign: str, wanted: list[str]) -> dict[str, int]:
        rows = events.get(campaign, {})
        return {name: sum(rows.get(m, {}).get(name, 0) for m in wanted) for name in EMAIL_COUNTS}

    def got(campaign: str, wanted: list[str], name: str) -> float:
        rows = email_credit.get(campaign, {})
        return float(sum(rows.get(m, {}).get(name, 0.0) for m in wanted))

    campaigns, by_month = [], []
    for campaign in sorted(events):
        counts = counted(campaign, months)
        if not any(counts.values()):
            continue
        campaigns.append(
            {
                "campaign": campaign,
                **_email_row(
                    counts, got(campaign, months, "conversions"), got(campaign, months, "revenue")
                ),
            }
        )
        for month in months:
            counts_m = counted(campaign, [month])
            if any(counts_m.values()):
                by_month.append(
                    {
                        "month": month,
                        "campaign": campaign,
                        **_email_row(
                            counts_m,
                            got(campaign, [month], "conversions"),
                            got(campaign, [month], "revenue"),
                        ),
                    }
                )
    totals = counted("", [])  # zeros
    for row in campaigns:
        for name in EMAIL_COUNTS:
            totals[name] += row[name]
    total_row = _email_row(
        totals, sum(r["conversions"] for r in campaigns), sum(r["revenue"] for r in campaigns)
    )
    return {"campaigns": campaigns, "by_month": by_month, "total": total_row}
