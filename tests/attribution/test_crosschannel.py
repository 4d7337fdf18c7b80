"""Channel pairs, the funnel and CLV by first touch, by hand on small inputs."""

from itertools import combinations

import numpy as np
import pytest

from attribution.engine.crosschannel import channel_pairs, clv_by_first_touch, funnel
from attribution.engine.journeys import Journeys
from attribution.engine.models import MODELS

JOURNEYS = Journeys.from_paths(
    [
        ["Email", "Paid Search", "Direct"],  # 1: converts for 100
        ["Email", "Direct"],  # 2: converts for 40
        ["Paid Search", "Email", "Email"],  # 3: does not convert
        ["Social"],  # 4: converts for 30, no pair
        ["Direct", "Email", "Social"],  # 5: converts for 60
    ],
    converted=[True, True, False, True, True],
    value=[100.0, 40.0, 0.0, 30.0, 60.0],
)
# Touches over all journeys: Email 5, Paid Search 2, Direct 3, Social 2. Cost per touch:
# Email 50 / 5 = 10, Paid Search 80 / 2 = 40, Social 20 / 2 = 10, Direct unknown = 0.
COSTS = {"Email": 50.0, "Paid Search": 80.0, "Social": 20.0}


def test_channel_pairs_counts_revenue_credit_and_cost_by_hand():
    rows = channel_pairs(JOURNEYS, MODELS["linear"](JOURNEYS), COSTS)
    # Linear credit: journey 1 gives 100 / 3 to each touch, 2 gives 20, 5 gives 20.
    assert rows == [
        # Journeys 1, 2, 5: credit 200/3 + 40 + 40; cost 3 Email touches x 10.
        {"channels": ["Direct", "Email"], "journeys": 3, "conversions": 3,
         "conversion_rate": 1.0, "revenue": 200.0, "credited_revenue": pytest.approx(440 / 3),
         "cost": 30.0, "roas": pytest.approx(440 / 3 / 30)},
        # Journeys 1, 3: credit 200/3; cost 3 Email x 10 + 2 Paid Search x 40 = 110.
        {"channels": ["Email", "Paid Search"], "journeys": 2, "conversions": 1,
         "conversion_rate": 0.5, "revenue": 100.0, "credited_revenue": pytest.approx(200 / 3),
         "cost": 110.0, "roas": pytest.approx(200 / 3 / 110)},
        # Journey 1: credit 200/3; cost 1 Paid Search x 40.
        {"channels": ["Direct", "Paid Search"], "journeys": 1, "conversions": 1,
         "conversion_rate": 1.0, "revenue": 100.0, "credited_revenue": pytest.approx(200 / 3),
         "cost": 40.0, "roas": pytest.approx(5 / 3)},
        # Journey 5: credit 20 + 20; cost 1 Social x 10.
        {"channels": ["Direct", "Social"], "journeys": 1, "conversions": 1,
         "conversion_rate": 1.0, "revenue": 60.0, "credited_revenue": pytest.approx(40.0),
         "cost": 10.0, "roas": pytest.approx(4.0)},
        # Journey 5: credit 20 + 20; cost 1 Email x 10 + 1 Social x 10.
        {"channels": ["Email", "Social"], "journeys": 1, "conversions": 1,
         "conversion_rate": 1.0, "revenue": 60.0, "credited_revenue": pytest.approx(40.0),
         "cost": 20.0, "roas": pytest.approx(2.0)},
    ]  # fmt: skip


def test_channel_pairs_without_costs_have_no_roas():
    rows = channel_pairs(JOURNEYS, MODELS["last_touch"](JOURNEYS), {})
    assert all(row["cost"] == 0.0 and row["roas"] is None for row in rows)
    # Last touch: journey 1 credits Direct 100, 2 credits Direct 40, 5 credits Social 60.
    credit = {tuple(row["channels"]): row["credited_revenue"] for row in rows}
    assert credit[("Direct", "Email")] == pytest.approx(140.0)
    assert credit[("Email", "Social")] == pytest.approx(60.0)
    assert credit[("Email", "Paid Search")] == pytest.approx(0.0)


def test_channel_pairs_match_a_journey_by_journey_count():
    rng = np.random.default_rng(11)
    names = ["A", "B", "C", "D", "E"]
    paths = [list(rng.choice(names, rng.integers(1, 6))) for _ in range(300)]
    converted = rng.random(300) < 0.4
    journeys = Journeys.from_paths(paths, converted=converted, value=rng.uniform(1, 100, 300))
    shares = MODELS["position_based"](journeys)
    costs = {"A": 100.0, "C": 30.0, "D": 12.5}
    touches = {c: sum(p.count(c) for p in paths) for c in names}
    expected = {}
    for pair in combinations(names, 2):
        inside = [i for i, p in enumerate(paths) if set(pair) <= set(p)]
        if not inside:
            continue
        credit = cost = 0.0
        for i in inside:
            start = journeys.offsets[i]
            for k, c in enumerate(paths[i]):
                if c in pair:
                    credit += shares[start + k] * journeys.value[i]
                    cost += costs.get(c, 0.0) / touches[c]
        expected[pair] = (len(inside), int(journeys.converted[inside].sum()), credit, cost)
    rows = channel_pairs(journeys, shares, costs)
    found = {
        tuple(r["channels"]): (r["journeys"], r["conversions"], r["credited_revenue"], r["cost"])
        for r in rows
    }
    assert found.keys() == expected.keys()
    for pair, figures in expected.items():
        assert found[pair] == pytest.approx(figures)
    assert [r["revenue"] for r in rows] == sorted((r["revenue"] for r in rows), reverse=True)


def test_channel_pairs_rejects_shares_of_the_wrong_length_and_negative_costs():
    with pytest.raises(ValueError, match="shares"):
        channel_pairs(JOURNEYS, np.ones(3), COSTS)
    with pytest.raises(ValueError, match="cost_by_channel"):
        channel_pairs(JOURNEYS, MODELS["linear"](JOURNEYS), {"Email": -1.0})


STAGES = ["awareness", "interest", "consideration", "decision"]


def test_funnel_counts_a_profile_at_every_stage_up_to_its_furthest():
    # Exactly at each stage: 2, 2, 2, 2 (and 2 nowhere), so reached 8, 6, 4, 2.
    highest = np.array([-1, 0, 0, 1, 2, 3, 3, 1, 2, -1])
    rows = funnel(highest, STAGES)
    assert [row["profiles"] for row in rows] == [8, 6, 4, 2]
    assert [row["conversion_rate"] for row in rows] == [None, 6 / 8, 4 / 6, 2 / 4]
    assert [row["drop_off"] for row in rows] == [None, 1 - 6 / 8, 1 - 4 / 6, 1 - 2 / 4]
    assert [row["share_of_first"] for row in rows] == [1.0, 0.75, 0.5, 0.25]
    assert [row["stage"] for row in rows] == STAGES


def test_funnel_of_nobody_has_no_rates():
    rows = funnel(np.array([-1, -1]), STAGES)
    assert [row["profiles"] for row in rows] == [0, 0, 0, 0]
    assert all(row["conversion_rate"] is None and row["share_of_first"] is None for row in rows)


def test_funnel_rejects_stage_indexes_out_of_range():
    with pytest.raises(ValueError, match="highest_stage"):
        funnel(np.array([0, 4]), STAGES)
    with pytest.raises(ValueError, match="highest_stage"):
        funnel(np.array([0.5]), STAGES)
    with pytest.raises(ValueError, match="stages"):
        funnel(np.array([0]), [])


def test_clv_by_first_touch_exactly():
    rows = clv_by_first_touch(
        ["Email", "Search", "Email", "Social", "Search", "Email"],
        np.array([100.0, 50.0, 0.0, 30.0, 150.0, 20.0]),
        np.array([2, 1, 0, 1, 3, 1]),
    )
    assert rows == [
        # 50 + 150 = 200 over 2 customers, both buyers, 1 + 3 orders.
        {"channel": "Search", "customers": 2, "buyers": 2, "revenue": 200.0, "clv": 100.0,
         "clv_per_buyer": 100.0, "orders_per_customer": 2.0},
        # 100 + 0 + 20 = 120 over 3 customers, 2 buyers, 2 + 0 + 1 orders.
        {"channel": "Email", "customers": 3, "buyers": 2, "revenue": 120.0, "clv": 40.0,
         "clv_per_buyer": 60.0, "orders_per_customer": 1.0},
        {"channel": "Social", "customers": 1, "buyers": 1, "revenue": 30.0, "clv": 30.0,
         "clv_per_buyer": 30.0, "orders_per_customer": 1.0},
    ]  # fmt: skip


def test_clv_without_buyers_has_no_clv_per_buyer():
    rows = clv_by_first_touch(np.array(["Email"]), np.array([0.0]), np.array([0]))
    assert rows[0]["buyers"] == 0 and rows[0]["clv_per_buyer"] is None


def test_clv_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="revenue"):
        clv_by_first_touch(["Email", "Search"], np.array([1.0]), np.array([1, 1]))
    with pytest.raises(ValueError, match="orders"):
        clv_by_first_touch(["Email"], np.array([1.0]), np.array([-1]))
