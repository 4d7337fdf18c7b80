"""Ingestion with a 50-event tracking plan in block mode, next to the same run without one.

    python benchmarks/tracking_plans.py --events 20000 --rounds 3

What is required: with the plan, at least 80% of the events per second accepted without.

The same events, the demo population's website (web.ndjson) in 100-event gzip batches,
go through the real path in one process: Django's test client → POST /v1/batch (Basic
auth, gzip, JSON, normalisation, the plan, COPY into PostgreSQL, commit, enqueue to an
in-memory broker no worker reads). The plan is the one inferred from those events
(every one of them planned, so none is refused: the cost measured is that of checking)
padded with made-up events to 50, every kind of violation in block mode.

Runs alternate, without and with the plan, `--rounds` times, each from a new source
(so no event is a duplicate) in a throwaway database `omnitrail_bench_plans`, dropped
and recreated each run. Both are printed side by side with their ratio and the load of
the machine (uptime): the machine is shared, the ratio is what counts. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BENCH_DB = "omnitrail_bench_plans"
BATCH = 100
PLAN_EVENTS = 50


def recreate_database(base_url: str) -> str:
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        connection.execute(f"CREATE DATABASE {BENCH_DB}")
    return f"{base_url}/{BENCH_DB}"


def drop_database(base_url: str) -> None:
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def population_events(count: int, seed: int, workdir: Path) -> list[dict]:
    from cdp.site.demo.population import WEB_FILE, generate_population

    customers = max(1, count // 14)
    for _ in range(5):
        if generate_population(customers, seed, workdir)[WEB_FILE] >= count:
            break
        customers = int(customers * 1.5) + 1
    lines = (workdir / WEB_FILE).read_bytes().splitlines()[:count]
    if len(lines) < count:
        raise SystemExit(f"the population gave {len(lines)} web events, {count} asked")
    return [orjson.loads(line) for line in lines]


def fifty_event_plan(events: list[dict], source_names: list[str]) -> dict:
    """The plan inferred from `events`, padded to 50 events, every mode block."""
    from cdp.tracking_plans.engine.document import read_plan
    from cdp.tracking_plans.engine.inference import Observation, infer_plan

    observed = (
        Observation(
            event["type"],
            event.get("event") or event.get("name") or "",
            event.get("properties"),
            event.get("traits") or (event.get("context") or {}).get("traits"),
        )
        for event in events
    )
    plan = infer_plan(observed, name="bench: 50 events", sources=source_names)
    for number in range(len(plan["events"]), PLAN_EVENTS):
        plan["events"].append(
            {
                "type": "track",
                "name": f"Planned Event {number}",
                "description": "",
                "properties": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "value": {"type": "number", "minimum": 0},
                        "count": {"type": "integer"},
                        "label": {"type": "string", "maxLength": 100},
                        "flag": {"type": "boolean"},
                        "items": {"type": "array"},
                    },
                    "required": ["id"],
                },
            }
        )
    plan["modes"] = dict.fromkeys(plan["modes"], "block")
    return read_plan(plan)


def bodies(events: list[dict]) -> list[bytes]:
    return [
        gzip.compress(orjson.dumps({"batch": events[start : start + BATCH]}))
        for start in range(0, len(events), BATCH)
    ]


def run(client, write_key: str, payloads: list[bytes]) -> tuple[float, int, int]:
    import base64

    token = base64.b64encode(f"{write_key}:".encode()).decode()
    accepted = rejected = 0
    started = time.perf_counter()
    for body in payloads:
        answer = client.post(
            "/v1/batch",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Basic {token}",
            HTTP_CONTENT_ENCODING="gzip",
        ).json()
        accepted += answer["accepted"]
        rejected += len(answer["rejected"])
    return time.perf_counter() - started, accepted, rejected


def time_checks(plan, events: list[dict]) -> float:
    """Seconds to check every event against the compiled plan, the engine alone."""
    from cdp.tracking_plans.ingest import compiled_plan

    compiled = compiled_plan(plan)
    started = time.perf_counter()
    for event in events:
        compiled.check(
            event["type"],
            event.get("event") or event.get("name") or "",
            properties=event.get("properties") or {},
            traits=event.get("traits") or {},
            context=event.get("context") or {},
        )
    return time.perf_counter() - started


def time_validators(plan, events: list[dict]) -> tuple[float, float, int]:
    """Seconds for fastjsonschema and for jsonschema's is_valid over the properties of
    every planned track event (the same schemas, the same payloads), and how many."""
    import fastjsonschema
    from jsonschema import Draft7Validator

    schemas = {e["name"]: e["properties"] for e in plan.rules["events"] if e["properties"]}
    pairs = [
        (schemas[event["event"]], event.get("properties") or {})
        for event in events
        if event["type"] == "track" and event.get("event") in schemas
    ]
    fast = {id(schema): fastjsonschema.compile(schema) for schema, _ in pairs}
    slow = {id(schema): Draft7Validator(schema) for schema, _ in pairs}
    started = time.perf_counter()
    for schema, properties in pairs:
        fast[id(schema)](properties)
    fast_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for schema, properties in pairs:
        slow[id(schema)].is_valid(properties)
    return fast_seconds, time.perf_counter() - started, len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = recreate_database(args.postgres)
    os.environ.pop("REDIS_URL", None)
    # Work after a batch is enqueued to the in-memory broker, never run: acceptance only.
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark")
    os.environ["DJANGO_SETTINGS_MODULE"] = "cdp.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from cdp.services.sources import create_source
    from cdp.tracking_plans.services import save_plan

    setup_test_environment()  # ALLOWED_HOSTS for the test client
    try:
        call_command("migrate", verbosity=0)
        with tempfile.TemporaryDirectory(prefix="omnitrail-bench-plans-") as folder:
            events = population_events(args.events, args.seed, Path(folder))
        with_plan = [f"with-plan-{r}" for r in range(args.rounds)]
        keys = {}
        for name in [*with_plan, *(f"no-plan-{r}" for r in range(args.rounds))]:
            keys[name] = create_source(name, kind="web")[1]
        plan = save_plan(fifty_event_plan(events, with_plan))
        print(
            f"{len(events):,} events in {len(events) // BATCH} gzip batches; plan "
            f"{plan.name!r}: {len(plan.rules['events'])} events, every mode block"
        )
        check_seconds = time_checks(plan, events)
        print(
            f"the checks alone             {check_seconds / len(events) * 1e6:.1f} µs per event "
            "(compiled plan, no database)"
        )
        fast, slow, checked = time_validators(plan, events)
        print(
            f"one schema, {checked:,} track events: fastjsonschema "
            f"{fast / checked * 1e6:.1f} µs, jsonschema is_valid {slow / checked * 1e6:.1f} µs"
        )
        client = Client()
        run(client, create_source("warm-up", kind="web")[1], bodies(events[:1000]))
        rates: dict[str, list[float]] = {"no plan": [], "50-event plan, block": []}
        for round_number in range(args.rounds):
            for label, name in (
                ("no plan", f"no-plan-{round_number}"),
                ("50-event plan, block", f"with-plan-{round_number}"),
            ):
                # Each source's own message ids: none is a duplicate of another run's.
                batch = [{**e, "messageId": f"{name}-{e['messageId']}"} for e in events]
                seconds, accepted, rejected = run(client, keys[name], bodies(batch))
                rates[label].append(accepted / seconds)
                print(
                    f"  round {round_number + 1} {label:<22} {accepted:>8,} accepted "
                    f"{rejected:>4} rejected in {seconds:6.2f} s: {accepted / seconds:8,.0f}/s"
                )
        base, planned = (statistics.median(rates[k]) for k in rates)
        print(f"median events/s            no plan {base:,.0f}   with the plan {planned:,.0f}")
        print(f"ratio                      {planned / base:.1%} of the no-plan rate (required 80%)")
        print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args.postgres)


if __name__ == "__main__":
    main()
