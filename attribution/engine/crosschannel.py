"""Cross-channel reports: which channels work together, how far profiles get down the
funnel, and what customers are worth by the channel that found them.
Pure: NumPy and SciPy (sparse matrices), vectorised over all journeys or profiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from attribution.engine.journeys import Journeys


def channel_pairs(
    journeys: Journeys, shares: np.ndarray, cost_by_channel: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Every unordered pair of distinct channels seen together in at least one journey,
    the pair's own figures over the journeys that contain both, largest revenue first.

    Definitions, over the journeys containing both channels:
    - journeys: how many; conversions: how many converted; conversion_rate = the two;
    - revenue: the total value of the converting ones;
    - credited_revenue: the model's credit to the two channels there, the sum of share x
      journey value over their touches (`shares`: one per touch, from a model);
    - cost: each channel's cost per touch (its cost over all its touches in all
      journeys) times its touches there, summed over the two; 0 for unknown costs;
    - roas = credited_revenue / cost (None when cost is 0).
    """
    shares = np.asarray(shares, dtype=np.float64)
    if shares.shape != journeys.touches.shape:
        raise ValueError(
            f"shares must hold one share per touch ({len(journeys.touches)}), "
            f"got shape {shares.shape}"
        )
    names = journeys.channels
    k = len(names)
    cost = np.array([float(cost_by_channel.get(name, 0.0)) for name in names])
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise ValueError("cost_by_channel must hold finite costs of at least 0")

    # Journey x channel matrices: touches (T), credited value (C), presence (X).
    journey = journeys.journey_of_touch()
    shape = (journeys.count, k)
    ones = np.ones(len(journeys.touches))
    touches = sparse.csr_matrix((ones, (journey, journeys.touches)), shape=shape)
    credit = shares * journeys.converted[journey] * journeys.value[journey]
    credited = sparse.csr_matrix((credit, (journey, journeys.touches)), shape=shape)
    present = touches.copy()
    present.data[:] = 1.0

    converted = journeys.converted.astype(np.float64)
    value = journeys.value * converted
    # [i, j] = the sum over journeys containing both i and j of a per-journey weight.
    both = (present.T @ present).toarray()
    conversions = (present.T @ sparse.diags(converted) @ present).toarray()
    revenue = (present.T @ sparse.diags(value) @ present).toarray()
    # [i, j] = channel i's touches (credit) in the journeys that also contain j.
    touches_with = (touches.T @ present).toarray()
    credited_with = (credited.T @ present).toarray()

    touch_totals = np.asarray(touches.sum(axis=0)).ravel()
    per_touch = np.divide(cost, touch_totals, out=np.zeros(k), where=touch_totals > 0)

    rows: list[dict[str, Any]] = []
    for i, j in zip(*np.nonzero(np.triu(both, k=1)), strict=True):
        pair_cost = per_touch[i] * touches_with[i, j] + per_touch[j] * touches_with[j, i]
        pair_credit = credited_with[i, j] + credited_with[j, i]
        rows.append(
            {
                "channels": sorted([names[i], names[j]]),
                "journeys": int(round(both[i, j])),
                "conversions": int(round(conversions[i, j])),
                "conversion_rate": float(conversions[i, j] / both[i, j]),
                "revenue": float(revenue[i, j]),
                "credited_revenue": float(pair_credit),
                "cost": float(pair_cost),
                "roas": float(pair_credit / pair_cost) if pair_cost > 0 else None,
            }
        )
    rows.sort(key=lambda row: (-row["revenue"], -row["journeys"], row["channels"]))
    return rows


def funnel(highest_stage: np.ndarray, stages: Sequence[str]) -> list[dict[str, Any]]:
    """How many profiles reached each stage (ordered awareness to decision).

    `highest_stage[i]` is the index of the furthest stage profile i reached, -1 for
    none; reaching a stage counts as reaching every earlier one. Definitions:
    profiles = how many reached the stage; conversion_rate = profiles / the previous
    stage's profiles (None for the first stage or an empty previous stage); drop_off =
    1 - conversion_rate; share_of_first = profiles / the first stage's profiles."""
    names = list(stages)
    if not names:
        raise ValueError("stages must name at least one stage")
    highest = np.asarray(highest_stage)
    if highest.ndim != 1 or (highest.size and highest.dtype.kind not in "iu"):
        raise ValueError("highest_stage must be a 1-d array of integer stage indexes")
    if highest.size and (highest.min() < -1 or highest.max() >= len(names)):
        raise ValueError(
            f"highest_stage must hold stage indexes from -1 to {len(names) - 1}, "
            f"got {int(highest.min())}..{int(highest.max())}"
        )
    # Profiles whose highest stage is exactly k, then reached-at-least-k by a reverse sum.
    exactly = np.bincount(highest[highest >= 0].astype(np.int64), minlength=len(names))
    reached = np.cumsum(exactly[::-1])[::-1]
    rows = []
    for k, name in enumerate(names):
        previous = reached[k - 1] if k else 0
        rate = float(reached[k] / previous) if k and previous else None
        rows.append(
            {
                "stage": name,
                "profiles": int(reached[k]),
                "conversion_rate": rate,
                "drop_off": 1.0 - rate if rate is not None else None,
                "share_of_first": float(reached[k] / reached[0]) if reached[0] else None,
            }
        )
    return rows


def clv_by_first_touch(
    first_channel: Sequence[str] | np.ndarray, revenue: np.ndarray, orders: np.ndarray
) -> list[dict[str, Any]]:
    """Customer lifetime value by the channel of each customer's first touch, highest
    first. One entry per customer in each argument. Definitions: customers; buyers
    (orders > 0); revenue (total); clv = revenue / customers; clv_per_buyer = revenue /
    buyers (None without buyers); orders_per_customer = orders / customers."""
    first = np.asarray(first_channel, dtype=str)
    revenue = np.asarray(revenue, dtype=np.float64)
    orders = np.asarray(orders, dtype=np.float64)
    if first.ndim != 1:
        raise ValueError("first_channel must be one channel name per customer")
    if revenue.shape != first.shape:
        raise ValueError(f"revenue must have one value per customer ({len(first)})")
    if orders.shape != first.shape:
        raise ValueError(f"orders must have one count per customer ({len(first)})")
    if not np.isfinite(revenue).all():
        raise ValueError("revenue must be finite")
    if not np.isfinite(orders).all() or (orders < 0).any():
        raise ValueError("orders must be finite counts of at least 0")
    channels, group = np.unique(first, return_inverse=True)
    n = len(channels)
    customers = np.bincount(group, minlength=n)
    buyers = np.bincount(group, weights=orders > 0, minlength=n)
    total = np.bincount(group, weights=revenue, minlength=n)
    order_total = np.bincount(group, weights=orders, minlength=n)
    rows: list[dict[str, Any]] = [
        {
            "channel": str(channels[c]),
            "customers": int(customers[c]),
            "buyers": int(buyers[c]),
            "revenue": float(total[c]),
            "clv": float(total[c] / customers[c]),
            "clv_per_buyer": float(total[c] / buyers[c]) if buyers[c] else None,
            "orders_per_customer": float(order_total[c] / customers[c]),
        }
        for c in range(n)
    ]
    rows.sort(key=lambda row: (-row["clv"], row["channel"]))
    return rows
