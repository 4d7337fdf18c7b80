"""The plan inferred for a generated source (cdp.site.demo.population's website): every
event name, property and type it sent, and nothing of it refused once the plan blocks."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest

from cdp.models import PlanViolationCount, Touchpoint
from cdp.services.ingest import ingest_batch
from cdp.services.sources import create_source
from cdp.site.demo.population import WEB_FILE, generate_population
from cdp.tracking_plans.services import propose_plan, save_plan

pytestmark = pytest.mark.django_db


def in_batches(events: list[dict], size: int = 100):
    for start in range(0, len(events), size):
        yield events[start : start + size]


def test_the_inferred_plan_of_a_generated_website(tmp_path):
    generate_population(8, 5, tmp_path)
    events = [orjson.loads(line) for line in (tmp_path / WEB_FILE).read_bytes().splitlines()]
    web, _ = create_source("web", kind="web")
    for batch in in_batches(events):
        assert ingest_batch(web, batch).rejected == []
    assert Touchpoint.objects.count() == len(events) == 172

    plan = propose_plan(web, days=1)

    # What the file holds, counted here from the raw lines.
    seen = Counter()
    keys: dict[tuple, list[set]] = defaultdict(list)
    for event in events:
        name = event.get("event") or event.get("name") or ""
        seen[event["type"], name] += 1
        keys[event["type"], name].append(set(event.get("properties") or event.get("traits") or {}))
    assert seen["identify", ""] == 5
    planned = {(e["type"], e["name"]): e for e in plan["events"]}
    assert set(planned) == set(seen) - {("identify", "")}
    for key, event in planned.items():
        assert event["description"] == f"seen {seen[key]} times"
        schema = event["properties"]
        assert set(schema["properties"]) == set().union(*keys[key])
        assert schema.get("required", []) == sorted(set.intersection(*keys[key]))
    product_viewed = planned["track", "Product Viewed"]["properties"]["properties"]
    assert {name: spec["type"] for name, spec in product_viewed.items()} == {
        "category": "string",
        "currency": "string",
        "name": "string",
        "price": "number",
        "product_id": "string",
        "quantity": "integer",
        "sku": "string",
    }
    order = planned["track", "Checkout Started"]["properties"]["properties"]
    assert order["products"]["type"] == "array"
    assert list(plan["identify_traits"]["properties"]) == [
        "city",
        "country",
        "email",
        "first_name",
        "last_name",
        "phone",
        "postal_code",
        "state",
        "street",
    ]

    # Saved in block mode for a second source, the same events all pass.
    replay, _ = create_source("web-replay", kind="web")
    save_plan(plan | {"sources": ["web-replay"], "modes": dict.fromkeys(plan["modes"], "block")})
    for batch in in_batches(events):
        result = ingest_batch(replay, batch)
        assert (result.rejected, result.warnings) == ([], [])
    assert Touchpoint.objects.filter(source=replay).count() == 172
    assert PlanViolationCount.objects.count() == 0
