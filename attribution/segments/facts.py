"""Per-profile facts for segment rules, from a profile's touches and orders. Pure:
pandas, NumPy and scikit-learn, no Django.

Definitions (docs/segments.md quotes them):
- first / last touch channel: the channel of the profile's first / last touch (page or
  screen view, email opened or clicked, ad clicked, store visit ...; a profile with no
  touch but its purchases is touched by them, In-store for a till sale); last touch
  campaign: the utm_campaign of its last touch that had one.
- channels seen: the channels of its touches and of its purchases (but Direct: a
  purchase with no marketing context reached it through no channel).
- total revenue, order count, first / last order: over its conversion events.
- RFM: among buyers, recency (days since the last order), frequency (orders) and
  monetary (revenue) scored 1-5 by the quintile edges of the whole population (a value
  above k edges scores k + 1; recency reversed: the most recent score 5); rfm_score is
  their sum (3-15); who never bought scores 0.
- CLV: revenue to date plus the next 12 months at the profile's pace: orders per day
  since its first order (at least 30 days) x 365 x average order value, damped by
  e^(-days since last order / 180).
- Best time to contact: the hour of the week (0 = Monday 00:00 UTC) and the channel of
  most of its touches (visits, opens, clicks).
- Persona: k-means over behaviour (log orders, log revenue, recency) and channel mix
  (share of touches per main channel), standardised; each cluster described in words by
  its centre: its leading channel (the one it uses most above the population's average),
  how often and how much it buys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

DIRECT = "Direct"
QUINTILES = (0.2, 0.4, 0.6, 0.8)
MAIN_CHANNELS = 6
PERSONAS = 4
MIN_FOR_PERSONAS = 40
# The RFM edges and personas are learnt from every profile up to this many, from a
# uniform sample of this many above (memory bounded at any population size).
LEARN_FROM = 1_000_000


@dataclass
class FactsModel:
    """What a full refresh learns from the whole population (applied to the profiles
    refreshed one by one afterwards)."""

    rfm_edges: dict[str, list[float]] = field(default_factory=dict)
    personas: list[dict[str, Any]] = field(default_factory=list)  # label, description, centre, size
    features: dict[str, Any] = field(default_factory=dict)  # channels, mean, scale


def compute(
    frame: pd.DataFrame,
    *,
    conversion_event: str,
    now: pd.Timestamp,
    model: FactsModel | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, FactsModel]:
    """Facts per profile (index profile_id) and (profile_id, channel, touches) rows from
    `frame` (columns profile_id, timestamp (UTC), event, channel, campaign, revenue;
    sorted by profile and time). Without `model` the population's edges and personas are
    learnt from `frame`; with it they are applied. (A full refresh over a large
    population calls `summarise`, `Learning` and `score` a chunk of profiles at a time.)"""
    facts, channels = summarise(frame, conversion_event=conversion_event, now=now)
    model = model or FactsModel()
    if not model.rfm_edges or not model.personas:
        learning = Learning()
        learning.add(facts, channels, now)
        learning.learn(now, model)
    return score(facts, channels, now, model), channels, model


def summarise(
    frame: pd.DataFrame, *, conversion_event: str, now: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The facts of the profiles in `frame` that need nothing of the rest of the
    population (all but the RFM scores and the persona), and their channel rows."""
    frame = frame.assign(
        channel=frame["channel"].astype(str).to_numpy(),
        campaign=frame["campaign"].astype(str).to_numpy(),
        event=frame["event"].astype(str).to_numpy(),
    )
    is_order = frame["event"].to_numpy() == conversion_event
    orders = frame[is_order]
    # A profile's touches are its marketing contacts; one with none (a shopper known only
    # from the till) is touched by its conversions, In-store for a POS sale.
    untouched = ~np.isin(frame["profile_id"].to_numpy(), frame.loc[~is_order, "profile_id"])
    touches = frame[~is_order | untouched]
    by_touch = touches.groupby("profile_id", sort=True)
    facts = pd.DataFrame(
        {
            "first_touch_channel": by_touch["channel"].first(),
            "last_touch_channel": by_touch["channel"].last(),
        }
    )
    with_campaign = touches[touches["campaign"].to_numpy() != ""]
    facts["last_touch_campaign"] = with_campaign.groupby("profile_id")["campaign"].last()
    # Channels seen: the touches', and where the profile bought (but a purchase with no
    # marketing context, Direct, is not a channel it was reached on).
    seen = pd.concat([touches, orders[orders["channel"].to_numpy() != DIRECT]])
    seen = seen[~seen.index.duplicated()]
    channels = (
        seen.groupby(["profile_id", "channel"], sort=True).size().rename("touches").reset_index()
    )
    facts["channel_count"] = channels.groupby("profile_id").size()
    by_order = orders.groupby("profile_id", sort=True)
    bought = pd.DataFrame(
        {
            "total_revenue": by_order["revenue"].sum(),
            "order_count": by_order.size(),
            "first_order_at": by_order["timestamp"].min(),
            "last_order_at": by_order["timestamp"].max(),
        }
    )
    facts = facts.join(bought, how="outer")
    facts["best_hour_of_week"], facts["best_contact_channel"] = _best_time(touches)
    facts = facts.fillna(
        {
            "first_touch_channel": "",
            "last_touch_channel": "",
            "last_touch_campaign": "",
            "best_contact_channel": "",
            "channel_count": 0,
            "total_revenue": 0.0,
            "order_count": 0,
        }
    )
    facts["channel_count"] = facts["channel_count"].astype(np.int64)
    facts["order_count"] = facts["order_count"].astype(np.int64)
    facts["clv"] = _clv(facts, now, _recency(facts, now))
    return facts, channels


def _recency(facts: pd.DataFrame, now: pd.Timestamp) -> np.ndarray:
    """Days since the last order (NaN for who never bought)."""
    days: np.ndarray = (now - facts["last_order_at"]).dt.total_seconds().to_numpy() / 86_400
    return days


class Learning:
    """What the RFM edges and the personas are learnt from, gathered a chunk of profiles
    at a time: every channel's touches, and each profile's orders, revenue, recency and
    channel rows -- of all of them, or above `LEARN_FROM` profiles of a seeded uniform
    sample of that many (so that memory stays bounded at any population size)."""

    def __init__(self, expected: int = 0, seed: int = 0) -> None:
        self.rate = min(1.0, LEARN_FROM / expected) if expected else 1.0
        self.rng = np.random.default_rng(seed)
        self.profiles = 0
        self.sampled = 0
        self.touches: dict[str, int] = {}
        self.parts: list[tuple[pd.DataFrame, pd.DataFrame]] = []

    def add(self, facts: pd.DataFrame, channels: pd.DataFrame, now: pd.Timestamp) -> None:
        self.profiles += len(facts)
        for name, count in channels.groupby("channel")["touches"].sum().items():
            self.touches[str(name)] = self.touches.get(str(name), 0) + int(count)
        kept = facts[["order_count", "total_revenue"]].assign(recency=_recency(facts, now))
        if self.rate < 1.0:
            kept = kept[self.rng.random(len(kept)) < self.rate]
            channels = channels[np.isin(channels["profile_id"].to_numpy(), kept.index)]
        self.sampled += len(kept)
        self.parts.append((kept, channels[["profile_id", "channel", "touches"]]))

    def learn(self, now: pd.Timestamp, model: FactsModel | None = None) -> FactsModel:
        """Fill in what `model` does not know yet (a new model when None)."""
        model = model or FactsModel()
        if self.parts:
            facts = pd.concat([part for part, _ in self.parts])
            channels = pd.concat([rows for _, rows in self.parts], ignore_index=True)
        else:
            facts = pd.DataFrame(
                {"order_count": [], "total_revenue": [], "recency": []}, dtype=float
            )
            channels = pd.DataFrame({"profile_id": [], "channel": [], "touches": []})
        recency = facts["recency"].to_numpy(dtype=float)
        buyers = facts["order_count"].to_numpy() > 0
        if not model.rfm_edges:
            model.rfm_edges = {
                name: (
                    np.quantile(values[buyers], QUINTILES).tolist() if buyers.any() else [0.0] * 4
                )
                for name, values in (
                    ("recency", recency),
                    ("frequency", facts["order_count"].to_numpy(dtype=float)),
                    ("monetary", facts["total_revenue"].to_numpy(dtype=float)),
                )
            }
        if not model.personas and self.profiles >= MIN_FOR_PERSONAS:
            _learn_personas(facts, channels, recency, model, self)
        return model


def score(
    facts: pd.DataFrame, channels: pd.DataFrame, now: pd.Timestamp, model: FactsModel
) -> pd.DataFrame:
    """`summarise`'s facts with the RFM scores and the persona `model` gives them."""
    facts = facts.copy()
    recency = _recency(facts, now)
    buyers = facts["order_count"].to_numpy() > 0
    edges = model.rfm_edges
    r = 5 - _above(recency, edges["recency"])
    f = 1 + _above(facts["order_count"].to_numpy(dtype=float), edges["frequency"])
    m = 1 + _above(facts["total_revenue"].to_numpy(dtype=float), edges["monetary"])
    facts["recency_score"] = np.where(buyers, r, 0)
    facts["frequency_score"] = np.where(buyers, f, 0)
    facts["monetary_score"] = np.where(buyers, m, 0)
    facts["rfm_score"] = facts["recency_score"] + facts["frequency_score"] + facts["monetary_score"]
    facts["persona"] = _personas(facts, channels, recency, model)
    return facts


def _above(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """How many of the edges each value is strictly above (0-4)."""
    above: np.ndarray = np.searchsorted(
        np.asarray(edges, dtype=float), np.nan_to_num(values), side="left"
    )
    return above


def _best_time(touches: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    stamps = touches["timestamp"].dt
    how = pd.DataFrame(
        {
            "profile_id": touches["profile_id"].to_numpy(),
            "hour": (stamps.day_of_week * 24 + stamps.hour).to_numpy(),
            "channel": touches["channel"].to_numpy(),
        }
    )

    def mode(column: str) -> pd.Series:
        counts = how.groupby(["profile_id", column], sort=False).size().rename("n").reset_index()
        counts = counts.sort_values(["profile_id", "n", column], ascending=[True, False, True])
        return counts.drop_duplicates("profile_id").set_index("profile_id")[column]

    return mode("hour"), mode("channel")


def _clv(facts: pd.DataFrame, now: pd.Timestamp, recency: np.ndarray) -> np.ndarray:
    orders = facts["order_count"].to_numpy(dtype=float)
    revenue = facts["total_revenue"].to_numpy(dtype=float)
    tenure = (now - facts["first_order_at"]).dt.total_seconds().to_numpy() / 86_400
    tenure = np.maximum(np.nan_to_num(tenure), 30.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        average = np.where(orders > 0, revenue / orders, 0.0)
    future = orders / tenure * 365 * average * np.exp(-np.nan_to_num(recency) / 180)
    return np.round(revenue + np.where(orders > 0, future, 0.0), 2)


def _features(
    facts: pd.DataFrame, channels: pd.DataFrame, recency: np.ndarray, names: list[str]
) -> np.ndarray:
    mix = channels.pivot_table(
        index="profile_id", columns="channel", values="touches", aggfunc="sum", fill_value=0
    ).reindex(facts.index, fill_value=0)
    total = mix.sum(axis=1).to_numpy(dtype=float)
    total[total == 0] = 1.0
    shares = [
        mix[name].to_numpy(dtype=float) / total if name in mix else np.zeros(len(facts))
        for name in names
    ]
    behaviour = [
        np.log1p(facts["order_count"].to_numpy(dtype=float)),
        np.log1p(facts["total_revenue"].to_numpy(dtype=float)),
        np.minimum(np.nan_to_num(recency, nan=365.0), 365.0) / 365.0,
    ]
    return np.column_stack(behaviour + shares)


def _learn_personas(
    facts: pd.DataFrame,
    channels: pd.DataFrame,
    recency: np.ndarray,
    model: FactsModel,
    learning: Learning,
) -> None:
    """k-means over the (sampled) population's features; the main channels are the
    whole population's."""
    totals = pd.Series(learning.touches, dtype=np.int64).sort_index()
    names = totals.sort_values(ascending=False).index[:MAIN_CHANNELS]
    model.features["channels"] = [str(n) for n in names]
    x = _features(facts, channels, recency, model.features["channels"])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model.features |= {"mean": mean.tolist(), "scale": scale.tolist()}
    from sklearn.cluster import MiniBatchKMeans

    k = min(PERSONAS, len(facts))
    fitted = MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3, batch_size=4096).fit(
        (x - mean) / scale
    )
    per_sampled = learning.profiles / max(learning.sampled, 1)
    model.personas = _describe(fitted.cluster_centers_ * scale + mean, fitted.labels_, model)
    if per_sampled != 1.0:  # sizes of the population, estimated from the sample's
        for persona in model.personas:
            persona["size"] = round(persona["size"] * per_sampled)
            persona["description"] = (
                f"about {persona['size']:,}"
                + persona["description"][persona["description"].index(" profiles:") :]
            )


def _personas(
    facts: pd.DataFrame, channels: pd.DataFrame, recency: np.ndarray, model: FactsModel
) -> np.ndarray:
    if not model.personas:
        return np.full(len(facts), "", dtype=object)
    names = model.features["channels"]
    if not len(facts):
        return np.full(0, "", dtype=object)
    x = _features(facts, channels, recency, names)
    centres = (np.array([p["centre"] for p in model.personas]) - model.features["mean"]) / (
        model.features["scale"]
    )
    z = (x - model.features["mean"]) / np.asarray(model.features["scale"])
    nearest = ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    persona: np.ndarray = np.array([p["label"] for p in model.personas], dtype=object)[nearest]
    return persona


def _describe(centres: np.ndarray, labels: np.ndarray, model: FactsModel) -> list[dict[str, Any]]:
    names = model.features["channels"]
    personas, used = [], set()
    for i, centre in enumerate(centres):
        orders, revenue = max(np.expm1(centre[0]), 0.0), max(np.expm1(centre[1]), 0.0)
        recency_days = centre[2] * 365
        # Its leading channel: the one it uses most above the population's average.
        average = np.maximum(np.asarray(model.features["mean"][3:]), 1e-9)
        lead_at = int(np.argmax(centre[3:] / average)) if names else 0
        lead = names[lead_at] if names else "mixed"
        share = float(centre[3 + lead_at]) if names else 0.0
        if orders >= 1.5:
            who = "repeat buyers"
        elif orders >= 0.5:
            who = "recent buyers" if recency_days < 90 else "lapsing buyers"
        else:
            who = "browsers who have not bought"
        label = f"{lead}-led {who}"
        while label in used:
            label += " (2)"
        used.add(label)
        personas.append(
            {
                "label": label,
                "description": (
                    f"{int((labels == i).sum()):,} profiles: {share:.0%} of their touches on "
                    f"{lead}, {orders:.1f} orders and {revenue:,.0f} revenue on average"
                    + (f", last order about {recency_days:.0f} days ago" if orders >= 0.5 else "")
                ),
                "centre": [float(v) for v in centre],
                "size": int((labels == i).sum()),
            }
        )
    return personas
