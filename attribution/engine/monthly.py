"""The monthly cross-channel report: per month and channel, the touchpoints, the profiles
touched and what each model credited, kept by the attribution run; and the figures of
any range of those months, read back from what was kept. Pure: NumPy only.

Distinct profiles do not add up across months (someone touched in August and again in
September is one profile over both), and a range is chosen after the run. So the run
keeps, per month, how many of the profiles touched in it were last touched before in
each earlier month ("" for never): the profiles touched in months a..b are those touched
in one of them whose previous touched month is before a, each counted once, at its
first touched month inside the range. That is months x months numbers per channel,
whatever the number of profiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np

from attribution.engine.comparison import return_on_spend
from attribution.engine.journeys import Journeys, channel_totals

NEVER = ""  # the "previous month" of a profile's first touched month
MOVERS = 3  # channels shown as top movers in each direction


# --- what the run keeps -----------------------------------------------------------------


def month_span(*stamps: np.ndarray) -> list[str]:
    """Every calendar month (YYYY-MM) from the earliest to the latest of the datetime64
    `stamps`, gaps included, so that each month's previous month is the one before it."""
    found = [np.asarray(s).astype("datetime64[M]") for s in stamps if len(s)]
    if not found:
        return []
    everything = np.concatenate(found)
    first, last = everything.min(), everything.max()
    return [str(m) for m in np.arange(first, last + 1, dtype="datetime64[M]")]


def month_index(stamps: np.ndarray, months: Sequence[str]) -> np.ndarray:
    """Each datetime64 stamp's position in `months` (a month_span covering them)."""
    if not months:
        return np.zeros(len(stamps), dtype=np.int64)
    first = np.datetime64(months[0], "M")
    return (np.asarray(stamps).astype("datetime64[M]") - first).astype(np.int64)


def touch_figures(
    *,
    profile: np.ndarray,
    channel: np.ndarray,
    month: np.ndarray,
    identified: np.ndarray,
    channels: Sequence[str],
    months: Sequence[str],
) -> dict[str, Any]:
    """Per channel and month, touchpoints and profiles touched, and the previous-month
    counts that give distinct profiles over any range (per channel, and for identified
    and anonymous profiles over all channels).

    One entry per touch row: `profile` id, `channel` (index into `channels`), `month`
    (index into `months`), whether the row's profile is `identified`.
    """
    profile = np.asarray(profile, dtype=np.int64)
    channel = np.asarray(channel, dtype=np.int64)
    month = np.asarray(month, dtype=np.int64)
    identified = np.asarray(identified, dtype=bool)
    size = len(months)
    touchpoints = np.bincount(channel * size + month, minlength=len(channels) * size).reshape(
        len(channels), size
    )
    by_channel = _previous_months(channel, profile, month, len(channels), size)
    by_kind = _previous_months(identified.astype(np.int64), profile, month, 2, size)
    profiles = by_channel.sum(axis=2)
    touches: dict[str, dict[str, Any]] = {}
    for c, m in zip(*np.nonzero(touchpoints), strict=True):
        touches.setdefault(channels[c], {})[months[m]] = {
            "touchpoints": int(touchpoints[c, m]),
            "profiles": int(profiles[c, m]),
        }
    return {
        "touches": touches,
        "reach": {
            "channels": {
                name: _reach_rows(counts, months)
                for name, counts in zip(channels, by_channel, strict=True)
                if counts.any()
            },
            "identified": _reach_rows(by_kind[1], months),
            "anonymous": _reach_rows(by_kind[0], months),
        },
    }


def _previous_months(
    group: np.ndarray, profile: np.ndarray, month: np.ndarray, groups: int, months: int
) -> np.ndarray:
    """groups x months x (months + 1): how many profiles touched in a group and month had
    their previous touched month in that group at each month (index 0: none)."""
    counts = np.zeros((groups, months, months + 1), dtype=np.int64)
    if not len(profile):
        return counts
    person, people = profile, int(profile.max()) + 1
    if groups * people * months >= 2**62:  # ids too large to pack in one key: renumber
        _, person = np.unique(profile, return_inverse=True)
        people = int(person.max()) + 1
    # One key per (group, person, month), sorted: a person's months in a group follow
    # each other, in order. (A plain sort: np.unique hashes first, 30 times slower here.)
    key = np.sort((group * people + person) * months + month)
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    in_month, who = key % months, key // months
    follows = np.zeros(len(key), dtype=bool)
    follows[1:] = who[1:] == who[:-1]
    previous = np.full(len(key), -1, dtype=np.int64)
    previous[1:][follows[1:]] = in_month[:-1][follows[1:]]
    flat = ((who // people) * months + in_month) * (months + 1) + previous + 1
    counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
    return counts


def _reach_rows(counts: np.ndarray, months: Sequence[str]) -> dict[str, dict[str, int]]:
    """months x (months + 1) counts as {month: {previous month or NEVER: profiles}}."""
    rows: dict[str, dict[str, int]] = {}
    for m, p in zip(*np.nonzero(counts), strict=True):
        rows.setdefault(months[m], {})[months[p - 1] if p else NEVER] = int(counts[m, p])
    return rows


def credited_by_month(
    journeys: Journeys, shares: np.ndarray, journey_month: np.ndarray, months: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per channel and conversion month: the conversions and revenue a model's `shares`
    credit (`journey_month`: each journey's month, an index into `months`)."""
    size = len(months)
    touch_month = np.asarray(journey_month, dtype=np.int64)[journeys.journey_of_touch()]
    keys = journeys.touches.astype(np.int64) * size + touch_month
    conversions, value = channel_totals(
        journeys, shares, groups=keys, size=len(journeys.channels) * size
    )
    table: dict[str, dict[str, Any]] = {}
    for key in np.flatnonzero(conversions):
        c, m = divmod(int(key), size)
        table.setdefault(journeys.channels[c], {})[months[m]] = {
            "conversions": round(float(conversions[key]), 6),
            "revenue": round(float(value[key]), 2),
        }
    return table


# --- a range of months, read back -------------------------------------------------------


def month_before(month: str) -> str:
    return str(np.datetime64(month, "M") - 1)


def month_after(month: str) -> str:
    return str(np.datetime64(month, "M") + 1)


def months_between(start: str, end: str) -> list[str]:
    first, last = np.datetime64(start, "M"), np.datetime64(end, "M")
    return [str(m) for m in np.arange(first, last + 1, dtype="datetime64[M]")]


def profiles_in(reach: Mapping[str, Mapping[str, int]], start: str, end: str) -> int:
    """Distinct profiles touched in months start..end, from previous-month counts."""
    return sum(
        count
        for month, previous in reach.items()
        if start <= month <= end
        for before, count in previous.items()
        if before < start  # NEVER ("") sorts before every month
    )


def range_report(
    monthly: Mapping[str, Any],
    *,
    model: str,
    start: str | None,
    end: str | None,
    costs: Mapping[tuple[str, str], float],
    movers: int = MOVERS,
) -> dict[str, Any]:
    """The figures of months start..end (YYYY-MM; None: no months) for `model`, from a
    run's kept monthly figures and the costs per (channel, month):

    - per month and channel, and per month over all channels: touchpoints, profiles
      (distinct within the month), conversions and revenue the model credited (by
      conversion month), cost, ROAS = revenue / cost (None without cost); with each
      figure's change from the month before (None when the run does not cover it);
    - per channel over the range, and in total: the same, profiles distinct over the
      range; in total also identified and anonymous profiles and the identified share;
    - top movers: the channels whose credited revenue rose and fell most from the
      range's second-to-last month to its last (at most `movers` each way);
    - return on spend over the range: paid ROAS (revenue credited to the channels that
      cost something / their cost) and blended MER (all revenue credited / all cost).
    """
    months = months_between(start, end) if start and end else []
    first, last = (months[0], months[-1]) if months else ("", "")  # start, end when given
    kept = _Kept(monthly, model=model, costs=costs, months=months)
    by_channel_month = _by_channel_month(kept, months)
    by_channel = _by_channel(kept, months, first, last)
    return {
        "model": model,
        "start": start,
        "end": end,
        "months": months,
        "totals": _totals(kept, months, first, last),
        "by_month": _by_month(kept, months),
        "by_channel": by_channel,
        "by_channel_month": by_channel_month,
        "top_movers": _top_movers(by_channel_month, months, movers),
        "return_on_spend": return_on_spend(
            {row["channel"]: row["revenue"] for row in by_channel},
            {row["channel"]: row["cost"] for row in by_channel},
        ),
    }


class _Kept:
    """What the run kept for one model, read per channel and month: the channels with
    anything in the months shown (the range and the month before it)."""

    def __init__(
        self,
        monthly: Mapping[str, Any],
        *,
        model: str,
        costs: Mapping[tuple[str, str], float],
        months: list[str],
    ) -> None:
        self.touches = monthly.get("touches", {})
        self.credited = monthly.get("credited", {}).get(model, {})
        self.reach = monthly.get("reach", {})
        self.covered = set(monthly.get("months", []))
        self.costs = costs
        shown = [month_before(months[0]), *months] if months else []
        self.channels = sorted(
            {c for c, rows in self.touches.items() if any(m in rows for m in shown)}
            | {c for c, rows in self.credited.items() if any(m in rows for m in shown)}
            | {c for c, m in costs if m in shown}
        )

    def stored(self, channel: str, month: str) -> dict[str, Any]:
        """The figures kept for one channel and month (rounded only when shown, so
        that sums do not add up rounding)."""
        touched = self.touches.get(channel, {}).get(month, {})
        got = self.credited.get(channel, {}).get(month, {})
        return {
            "touchpoints": touched.get("touchpoints", 0),
            "profiles": touched.get("profiles", 0),
            "conversions": got.get("conversions", 0.0),
            "revenue": got.get("revenue", 0.0),
            "cost": self.costs.get((channel, month), 0.0),
        }

    def month_total(self, month: str) -> dict[str, Any]:
        identified = sum(self.reach.get("identified", {}).get(month, {}).values())
        anonymous = sum(self.reach.get("anonymous", {}).get(month, {}).values())
        return {
            **_summed([self.stored(c, month) for c in self.channels], identified + anonymous),
            "identified_profiles": identified,
            "anonymous_profiles": anonymous,
        }


def _summed(cells: list[dict[str, Any]], profiles: int) -> dict[str, Any]:
    return _figures(
        sum(c["touchpoints"] for c in cells),
        profiles,
        sum(c["conversions"] for c in cells),
        sum(c["revenue"] for c in cells),
        sum(c["cost"] for c in cells),
    )


def _anything(row: dict[str, Any]) -> bool:
    return any(row[k] for k in ("touchpoints", "conversions", "revenue", "cost"))


def _by_month(kept: _Kept, months: list[str]) -> list[dict[str, Any]]:
    """Per month, all channels, with the change from the month before."""
    rows = []
    for month in months:
        previous = month_before(month)
        total, before = kept.month_total(month), kept.month_total(previous)
        rows.append(
            {"month": month, **total, "change": _change(total, before, previous in kept.covered)}
        )
    return rows


def _by_channel_month(kept: _Kept, months: list[str]) -> list[dict[str, Any]]:
    """Per month and channel, with the change from the month before; a channel with
    nothing in either month is left out."""
    rows = []
    for month in months:
        previous = month_before(month)
        for channel in kept.channels:
            now = _summed([kept.stored(channel, month)], kept.stored(channel, month)["profiles"])
            then = _summed(
                [kept.stored(channel, previous)], kept.stored(channel, previous)["profiles"]
            )
            if not (_anything(now) or _anything(then)):
                continue
            change = _change(now, then, previous in kept.covered)
            rows.append({"month": month, "channel": channel, **now, "change": change})
    return rows


def _by_channel(kept: _Kept, months: list[str], start: str, end: str) -> list[dict[str, Any]]:
    """Per channel over the range, profiles distinct over it; most revenue first."""
    rows = []
    for channel in kept.channels:
        distinct = profiles_in(kept.reach.get("channels", {}).get(channel, {}), start, end)
        row = _summed([kept.stored(channel, m) for m in months], distinct)
        if _anything(row):
            rows.append({"channel": channel, **row})
    return sorted(rows, key=lambda r: (-r["revenue"], r["channel"]))


def _totals(kept: _Kept, months: list[str], start: str, end: str) -> dict[str, Any]:
    identified = profiles_in(kept.reach.get("identified", {}), start, end) if months else 0
    anonymous = profiles_in(kept.reach.get("anonymous", {}), start, end) if months else 0
    cells = [kept.stored(c, m) for c in kept.channels for m in months]
    return {
        **_summed(cells, identified + anonymous),
        "identified_profiles": identified,
        "anonymous_profiles": anonymous,
        "identified_share": (
            round(identified / (identified + anonymous), 4) if identified + anonymous else None
        ),
    }


def _figures(
    touchpoints: float, profiles: float, conversions: float, revenue: float, cost: float
) -> dict[str, Any]:
    return {
        "touchpoints": int(touchpoints),
        "profiles": int(profiles),
        "conversions": round(float(conversions), 4),
        "revenue": round(float(revenue), 2),
        "cost": round(float(cost), 2),
        "roas": round(revenue / cost, 4) if cost else None,
    }


def _change(now: dict[str, Any], then: dict[str, Any], known: bool) -> dict[str, Any]:
    """Each figure minus the month before's (None where either is unknown)."""
    change: dict[str, float | None] = {}
    for name in ("touchpoints", "profiles", "conversions", "revenue", "cost", "roas"):
        if not known or now[name] is None or then[name] is None:
            change[name] = None
        elif isinstance(now[name], int):
            change[name] = now[name] - then[name]
        else:
            change[name] = round(
                now[name] - then[name], 4 if name in ("conversions", "roas") else 2
            )
    return change


def _top_movers(
    by_channel_month: list[dict[str, Any]], months: list[str], shown: int
) -> dict[str, Any]:
    """The channels whose revenue changed most between the range's last two months."""
    if len(months) < 2:
        return {"from": None, "to": months[-1] if months else None, "up": [], "down": []}
    before, after = months[-2], months[-1]
    rows: dict[str, dict[str, Any]] = {}
    for row in by_channel_month:
        if row["month"] in (before, after):
            entry = rows.setdefault(
                row["channel"],
                {
                    "channel": row["channel"],
                    "revenue_before": 0.0,
                    "revenue_after": 0.0,
                    "conversions_before": 0.0,
                    "conversions_after": 0.0,
                },
            )
            side = "before" if row["month"] == before else "after"
            entry[f"revenue_{side}"] = row["revenue"]
            entry[f"conversions_{side}"] = row["conversions"]
    for entry in rows.values():
        entry["revenue_change"] = round(entry["revenue_after"] - entry["revenue_before"], 2)
        entry["revenue_change_percent"] = (
            round(100 * entry["revenue_change"] / entry["revenue_before"], 1)
            if entry["revenue_before"]
            else None
        )
        entry["conversions_change"] = round(
            entry["conversions_after"] - entry["conversions_before"], 4
        )
    ranked = sorted(rows.values(), key=lambda e: (-e["revenue_change"], e["channel"]))
    return {
        "from": before,
        "to": after,
        "up": [e for e in ranked if e["revenue_change"] > 0][:shown],
        "down": [e for e in reversed(ranked) if e["revenue_change"] < 0][:shown],
    }


def parse_month(text: str) -> str:
    """A month as YYYY-MM, from YYYY-MM or a date YYYY-MM-DD (its month); ValueError
    otherwise."""
    text = (text or "").strip()
    try:
        if len(text) not in (7, 10):
            raise ValueError
        day = date.fromisoformat(text if len(text) == 10 else f"{text}-01")
    except ValueError:
        raise ValueError(f"{text!r} is not a month (YYYY-MM) or a date (YYYY-MM-DD)") from None
    return f"{day.year:04d}-{day.month:02d}"
