"""Profile facts against hand-computed figures (issue 20): CLV by the formula docs/segments.md
states, and the k-means personas recovering groups that are separable by construction."""

import math

import numpy as np
import pandas as pd
import pytest

from attribution.segments.facts import compute

NOW = pd.Timestamp("2026-10-01T00:00:00Z")
ORDER = "Order Completed"


def frame(rows: list[tuple[int, float, str, str, float]]) -> pd.DataFrame:
    """(profile, days before NOW, event, channel, revenue) rows, sorted as compute wants."""
    rows = sorted(rows, key=lambda r: (r[0], -r[1]))
    return pd.DataFrame(
        {
            "profile_id": [r[0] for r in rows],
            "timestamp": [NOW - pd.Timedelta(days=r[1]) for r in rows],
            "event": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
            "campaign": [""] * len(rows),
            "revenue": [r[4] for r in rows],
        }
    )


def test_clv_is_revenue_to_date_plus_a_year_at_the_customers_pace():
    """clv = revenue + orders / max(days since first order, 30) x 365 x average order
    x e^(-days since last order / 180)."""
    facts, _, _ = compute(
        frame(
            [
                (1, 95, "page", "Email", 0.0),
                (1, 90, ORDER, "Email", 100.0),
                (1, 30, ORDER, "Email", 50.0),
                (2, 12, "page", "Paid Search", 0.0),
                (2, 10, ORDER, "Paid Search", 40.0),
                (3, 5, "page", "Display", 0.0),
            ]
        ),
        conversion_event=ORDER,
        now=NOW,
    )
    # 1: 2 orders in 90 days, 75 each, last 30 days ago
    first = 150 + 2 / 90 * 365 * 75 * math.exp(-30 / 180)
    # 2: one order 10 days ago: the pace is taken over at least 30 days
    second = 40 + 1 / 30 * 365 * 40 * math.exp(-10 / 180)
    assert facts.loc[1, "clv"] == pytest.approx(round(first, 2))  # 664.94
    assert facts.loc[2, "clv"] == pytest.approx(round(second, 2))  # 500.37
    assert facts.loc[3, "clv"] == 0.0  # never bought
    assert round(first, 2) == 664.94 and round(second, 2) == 500.37


def test_personas_recover_four_separable_groups():
    """Four groups of ten profiles, each touched on one channel only and buying in its own
    way: Email repeat buyers (5 orders of 100, the last 3 days ago), Paid Search browsers
    (no order), Display lapsing buyers (one order of 20, 200 days ago), Organic Social
    browsers. k-means (k = 4) must put each group in one persona of its own, labelled by
    its channel and how it buys."""
    rows = []
    groups = {
        "Email-led repeat buyers": range(0, 10),
        "Paid Search-led browsers who have not bought": range(10, 20),
        "Display-led lapsing buyers": range(20, 30),
        "Organic Social-led browsers who have not bought": range(30, 40),
    }
    for pk in range(40):
        channel = ("Email", "Paid Search", "Display", "Organic Social")[pk // 10]
        for touch in range(6):
            rows.append((pk, 220 - touch, "page", channel, 0.0))
        if channel == "Email":
            rows += [(pk, 3 + 20 * n, ORDER, channel, 100.0) for n in range(5)]
        if channel == "Display":
            rows.append((pk, 200, ORDER, channel, 20.0))
    facts, _, model = compute(frame(rows), conversion_event=ORDER, now=NOW)
    assert len(model.personas) == 4
    for label, members in groups.items():
        assert set(facts.loc[list(members), "persona"]) == {label}
    sizes = {p["label"]: p["description"].split(" profiles")[0] for p in model.personas}
    assert sizes == dict.fromkeys(groups, "10")
    # a new profile like the Display buyers is assigned their persona
    newcomer = frame([(99, 210, "page", "Display", 0.0), (99, 190, ORDER, "Display", 20.0)])
    again, _, _ = compute(newcomer, conversion_event=ORDER, now=NOW, model=model)
    assert again.loc[99, "persona"] == "Display-led lapsing buyers"
    assert np.isfinite(facts["clv"]).all()
