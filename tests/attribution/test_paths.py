"""Path reports, by hand on small journeys, and through the report API."""

import pytest
from rest_framework.test import APIClient

from attribution.engine.journeys import Journeys
from attribution.engine.paths import (
    assisted_conversions,
    pareto,
    path_lengths,
    time_to_convert,
    top_paths,
)
from attribution.services import refresh_attribution
from tests.factories import report_reader

DAY = 86_400.0
JOURNEYS = Journeys.from_paths(
    [
        ["Email", "Email", "Direct"],
        ["Email", "Direct"],
        ["Paid Search"],
        ["Paid Search", "Email"],
        ["Display"],
    ],
    converted=[True, True, True, True, False],
    value=[10, 20, 30, 40, 0],
    ages=[[9 * DAY, 5 * DAY, DAY], [2 * DAY, 0], [DAY], [4 * DAY, DAY], [DAY]],
)


def test_top_paths_collapse_repeats_and_rank_by_conversions():
    assert top_paths(JOURNEYS) == [
        {"path": "Email > Direct", "conversions": 2, "value": 30.0},
        {"path": "Paid Search", "conversions": 1, "value": 30.0},
        {"path": "Paid Search > Email", "conversions": 1, "value": 40.0},
    ]
    assert len(top_paths(JOURNEYS, limit=1)) == 1


def test_path_length_and_time_to_convert():
    assert path_lengths(JOURNEYS) == {"distribution": {1: 1, 2: 2, 3: 1}, "mean": 2.0}
    # First touches 9, 2, 1 and 4 days before converting.
    assert time_to_convert(JOURNEYS) == {
        "median_days": 3.0,
        "mean_days": 4.0,
        "p90_days": 7.5,
        "distribution": {1: 1, 2: 1, 4: 1, 9: 1},
    }


def test_assisted_versus_last_touch():
    rows = {row["channel"]: row for row in assisted_conversions(JOURNEYS)}
    assert rows["Direct"]["last_touch_conversions"] == 2
    assert rows["Direct"]["assisted_conversions"] == 0
    assert rows["Email"]["last_touch_conversions"] == 1
    assert rows["Email"]["assisted_conversions"] == 2
    assert rows["Email"]["assisted_per_last_touch"] == 2.0
    assert rows["Paid Search"]["assisted_conversions"] == 1
    assert rows["Display"]["last_touch_conversions"] == 0  # never converted


def test_pareto_finds_the_few_that_bring_most():
    rows = [{"channel": c, "revenue": r} for c, r in [("A", 50), ("B", 30), ("C", 15), ("D", 5)]]
    view = pareto(rows)
    assert view["rows_for_share"] == 2 and view["share_of_rows"] == 0.5
    assert [r["cumulative_share"] for r in view["rows"]] == [0.5, 0.8, 0.95, 1.0]


@pytest.mark.django_db
def test_reports_through_the_api(deliver):
    for user, medium in (("ann", "email"), ("bob", "cpc"), ("cy", "email")):
        deliver(
            {
                "type": "page",
                "userId": user,
                "timestamp": "2026-09-01T10:00:00Z",
                "context": {
                    "campaign": {
                        "source": "google" if medium == "cpc" else "news",
                        "medium": medium,
                        "name": "x",
                    }
                },
            },  # fmt: skip
            {
                "type": "track",
                "event": "Order Completed",
                "userId": user,
                "timestamp": "2026-09-02T10:00:00Z",
                "properties": {"revenue": 10},
            },
        )
    refresh_attribution("purchase")
    api = APIClient()
    api.force_authenticate(report_reader("analyst"))

    def get(name, **params):
        response = api.get(f"/api/v1/attribution/reports/{name}", params)
        assert response.status_code == 200, response.json()
        return response.json()["results"]

    assert get("paths")[0] == {"path": "Email", "conversions": 2, "value": 20.0}
    assert get("path-lengths") == {"distribution": {"1": 3}, "mean": 1.0}
    assert get("time-to-convert")["median_days"] == 1.0
    comparison = {row["channel"]: row for row in get("models")}
    assert comparison["Email"]["markov"]["revenue"] == pytest.approx(20.0)
    assert comparison["Paid Search"]["linear"] == {"conversions": 1.0, "revenue": 10.0}
    assert get("pareto", model="last_touch")["rows_for_share"] == 2
    assert api.get("/api/v1/attribution/reports/horoscope").status_code == 400
