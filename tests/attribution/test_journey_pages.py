"""The Journeys page under /app/: the figures the API gives, who may see what, CSV
downloads, and bad filters named on the page."""

import io
import json

import pytest

from attribution.services import import_costs, refresh_attribution
from tests.attribution.conftest import parse_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoppers(shoppers):
    """The attribution tests' shoppers (ann, bob, cy), with display costs, after a run."""
    import_costs(io.StringIO("date,channel,campaign,cost\n2026-09-25,Display,retarget,60\n"))
    return refresh_attribution("purchase")


def api_report(client, name, **params):
    body = client.get(f"/api/v1/attribution/reports/{name}", params)
    assert body.status_code == 200, body.content
    return body.json()["results"]


# --- Who may open the pages --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/app/journeys/", "/app/segments/", "/app/segments/{pk}/"])
def test_pages_need_sign_in_and_the_report_permission(client, user_in, parisians, path):
    path = path.format(pk=parisians.pk)

    anonymous = client.get(path)
    client.force_login(user_in(name="nobody").user)
    without = client.get(path)
    for role in ("Analysts", "Customer care", "Identity stewards"):
        client.force_login(user_in(role, name=f"someone in {role}").user)
        assert client.get(path).status_code == 200, role

    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/app/login/?next={path}"
    assert without.status_code == 403


# --- Journeys ----------------------------------------------------------------------------


def test_journeys_page_shows_the_figures_of_the_reports_api(analyst, shoppers):
    page = analyst.get("/app/journeys/")

    assert page.status_code == 200
    tables = page.context["tables"]
    paths = api_report(analyst, "paths")
    assert paths == [
        {"path": "Display", "conversions": 1, "value": 30.0},
        {"path": "Paid Search > Email", "conversions": 1, "value": 120.0},
    ]
    # path, touches, conversions, revenue, revenue per conversion, share of conversions
    assert tables["paths"].rows == [
        ["Display", 1, 1, 30.0, 30.0, 50.0],
        ["Paid Search > Email", 2, 1, 120.0, 120.0, 50.0],
    ]
    assert api_report(analyst, "path-lengths") == {"distribution": {"1": 1, "2": 1}, "mean": 1.5}
    assert tables["path_lengths"].rows == [[1, 1, 50.0], [2, 1, 50.0]]
    # first touches 5 and 3 days before buying: median 4, mean 4, p90 3 + 0.9 x 2
    assert api_report(analyst, "time-to-convert") == {
        "median_days": 4.0,
        "mean_days": 4.0,
        "p90_days": 4.8,
        "distribution": {"3": 1, "5": 1},
    }
    assert tables["time_to_convert"].rows == [
        ["Median", 4.0],
        ["Mean", 4.0],
        ["90th percentile", 4.8],
        ["3 to 4 days", 1],
        ["5 to 6 days", 1],
    ]
    assisted = {row[0]: row[1:] for row in tables["assisted"].rows}
    assert assisted["Paid Search"] == [0, 1, ""]  # no last touch: no ratio
    assert assisted["Email"] == [1, 0, 0.0]
    assert assisted["Display"] == [1, 0, 0.0]
    assert [
        [row["channel"], row["last_touch_conversions"], row["assisted_conversions"]]
        for row in api_report(analyst, "assisted")
    ] == [row[:3] for row in tables["assisted"].rows]
    # ann, bob and cy viewed pages (awareness); ann and bob bought (decision), so they
    # passed interest and consideration too
    funnel = api_report(analyst, "funnel")
    assert [[row["stage"], row["profiles"]] for row in funnel] == [
        ["awareness", 3],
        ["interest", 2],
        ["consideration", 2],
        ["decision", 2],
    ]
    assert [[row[0], row[1]] for row in tables["funnel"].rows] == [
        [row["stage"], row["profiles"]] for row in funnel
    ]
    # linear: Email 60, Paid Search 60, Display 30 of 150; 2 of 3 channels make 80%
    pareto = api_report(analyst, "pareto", model="linear")
    assert tables["pareto"].rows == [
        ["Email", 60.0, 40.0, 40.0],
        ["Paid Search", 60.0, 40.0, 80.0],
        ["Display", 30.0, 20.0, 100.0],
    ]
    assert [row["cumulative_share"] for row in pareto["rows"]] == [0.4, 0.8, 1.0]
    assert page.context["pareto"]["rows_for_share"] == pareto["rows_for_share"] == 2
    html = page.content.decode()
    assert 'data-figure="pareto">2 of 3<' in html
    assert 'data-figure="conversions">2<' in html
    assert set(page.context["charts"]) == {
        "paths",
        "path_lengths",
        "time_to_convert",
        "assisted",
        "funnel",
        "pareto",
    }


def test_sankey_links_add_up_each_path_to_the_conversion(analyst, shoppers):
    figure = json.loads(analyst.get("/app/journeys/").context["chart_json"]["paths"])
    sankey = figure["data"][0]
    labels = sankey["node"]["label"]
    links = {
        (labels[source], labels[target]): value
        for source, target, value in zip(
            sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"], strict=True
        )
    }

    assert sankey["type"] == "sankey"
    assert links == {
        ("Display", "Conversion"): 1,
        ("Paid Search", "Email"): 1,
        ("Email", "Conversion"): 1,
    }
    assert labels.count("Conversion") == 1


def test_pareto_by_campaign_and_model_as_in_the_address(analyst, shoppers):
    page = analyst.get("/app/journeys/", {"model": "last_touch", "group_by": "campaign"})

    api = api_report(analyst, "pareto", model="last_touch", group_by="campaign")
    assert page.status_code == 200
    assert page.context["tables"]["pareto"].columns[:2] == ["Channel", "Campaign"]
    assert page.context["tables"]["pareto"].rows == [
        ["Email", "autumn", 120.0, 80.0, 80.0],
        ["Display", "retarget", 30.0, 20.0, 100.0],
    ]
    assert [row["revenue"] for row in api["rows"]] == [120.0, 30.0]
    assert "Last touch" in page.content.decode()


def test_journeys_tables_download_as_csv_with_the_filters(analyst, shoppers):
    paths = analyst.get("/app/journeys/", {"download": "paths"})
    pareto = analyst.get(
        "/app/journeys/", {"download": "pareto", "model": "last_touch", "group_by": "campaign"}
    )

    assert paths["Content-Type"].startswith("text/csv")
    assert parse_csv(paths) == [
        ["Path", "Touches", "Conversions", "Revenue", "Revenue per conversion", "Share (%)"],
        ["Display", "1", "1", "30.0", "30.0", "50.0"],
        ["Paid Search > Email", "2", "1", "120.0", "120.0", "50.0"],
    ]
    assert parse_csv(pareto)[1:] == [
        ["Email", "autumn", "120.0", "80.0", "80.0"],
        ["Display", "retarget", "30.0", "20.0", "100.0"],
    ]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"goal": "nope"}, "Goal (goal)"),
        ({"model": "magic"}, "(model)"),
        ({"group_by": "country"}, "Pareto by (group_by)"),
    ],
)
def test_a_bad_filter_is_a_400_naming_the_field(analyst, shoppers, query, named):
    page = analyst.get("/app/journeys/", query)

    assert page.status_code == 400
    html = page.content.decode()
    assert named in html and "Select a valid choice" in html
    assert list(query.values())[0] in html
    assert '<form method="get" class="filters"' in html


def test_time_to_convert_is_a_histogram_of_whole_days(analyst, shoppers):
    """Runs store the conversions per whole day from first touch: the histogram's bars."""
    page = analyst.get("/app/journeys/")

    bars = json.loads(page.context["chart_json"]["time_to_convert"])["data"][0]
    assert (bars["x"], bars["y"]) == (["3", "5"], [1, 1])
    assert page.context["tables"]["time_to_convert"].rows[3:] == [
        ["3 to 4 days", 1],
        ["5 to 6 days", 1],
    ]


def test_a_goal_without_a_run_says_so(analyst):
    page = analyst.get("/app/journeys/")

    assert page.status_code == 200
    assert "No completed attribution run" in page.content.decode()


def test_journeys_page_reads_a_handful_of_queries(analyst, shoppers, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        assert analyst.get("/app/journeys/").status_code == 200
