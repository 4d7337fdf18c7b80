"""Identity resolution speed and accuracy: stitching, Splink runs, and plain Splink.

    python benchmarks/identity.py --customers 10000 --records 100000,1000000

Part 1, on PostgreSQL (throwaway database `omnitrail_bench_identity`, dropped and
recreated): a population from `cdp.site.demo.population` is ingested through the ingest and
import services with identity work left in Redis database 15 (no worker), then
`resolve_pending` (what `resolve_identities` and the workers run) is timed over every
touchpoint, run again to show it is idempotent, and a Splink full run
(`identity.services.matching.full_run`: COPY out, train, predict, merge) is timed.
Pairwise precision, recall and F1 against the generator's ground truth after each.

Part 2, the Splink engine alone on labelled records (`cdp.site.demo.labelled_records`), one
child process per size so that peak memory is its own: train, full prediction at the
review threshold, clusters at the merge threshold; then incremental runs (1,000 and
10,000 new records against the rest); then the ceiling, plain Splink predicting with the
same trained model on the same prepared table, without our wrapper.

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BENCH_DB = "omnitrail_bench_identity"
REDIS_URL = "redis://127.0.0.1:6379/15"
THRESHOLD_REVIEW, THRESHOLD_MERGE = 0.80, 0.95


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB, Python {platform.python_version()}"
    )


# -- part 1: stitching and Splink runs on PostgreSQL ---------------------------------------


def recreate_database(postgres: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")


def stitching(customers: int, seed: int, postgres: str, *, analyze: bool) -> None:
    recreate_database(postgres)
    os.environ.update(
        DATABASE_URL=f"{postgres}/{BENCH_DB}",
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY="benchmark-only",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )
    import django

    django.setup()
    import orjson
    import redis
    from django.core.management import call_command

    from cdp.models import Touchpoint
    from cdp.services.imports import import_file
    from cdp.services.ingest import ingest_batch
    from cdp.services.sources import create_source
    from cdp.site.demo.population import generate_population
    from cdp.site.demo.run import score_against_truth
    from identity.services.matching import full_run
    from identity.services.stitching import resolve_pending

    redis.Redis.from_url(REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory(prefix="omnitrail-bench-") as folder:
        data = Path(folder)
        started = time.perf_counter()
        generate_population(customers, seed, data)
        print(f"generated {customers} customers in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        for name, kind in (("web", "web"), ("app", "app"), ("email", "email")):
            source = create_source(name, kind=kind)[0]
            batch: list[dict] = []
            with (data / f"{name}.ndjson").open("rb") as lines:
                for line in lines:
                    batch.append(orjson.loads(line))
                    if len(batch) == 500:
                        ingest_batch(source, batch, channel="import")
                        batch = []
            if batch:
                ingest_batch(source, batch, channel="import")
        for name, filename, kind, column in (
            ("crm", "crm.csv", "records", "crm_id"),
            ("pos", "pos.csv", "events", "id"),
        ):
            import_file(
                create_source(name, kind=name)[0], data / filename, kind=kind, id_column=column
            )
        touchpoints = Touchpoint.objects.count()
        elapsed = time.perf_counter() - started
        print(
            f"ingested {touchpoints} touchpoints in {elapsed:.1f} s "
            f"({touchpoints / elapsed:,.0f}/s)"
        )
        redis.Redis.from_url(REDIS_URL).flushdb()  # the per-batch tasks nobody will run
        if analyze:
            # What autovacuum would have done by now; a server running without it (as
            # these machines' PostgreSQL does) never gathers statistics on new tables.
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        started = time.perf_counter()
        resolved = resolve_pending()
        elapsed = time.perf_counter() - started
        print(
            f"stitching: {resolved} touchpoints resolved in {elapsed:.1f} s "
            f"({resolved / elapsed:,.0f}/s)"
        )
        started = time.perf_counter()
        again = resolve_pending()
        print(
            f"stitching again: {again} touchpoints changed in {time.perf_counter() - started:.2f} s"
        )
        scores = score_against_truth(data / "ground_truth.csv")
        print(
            f"after stitching: precision {scores.precision:.3f} recall {scores.recall:.3f} "
            f"F1 {scores.f1:.3f} ({scores.items} ids)"
        )

        started = time.perf_counter()
        run = full_run()
        elapsed = time.perf_counter() - started
        print(
            f"splink full run (COPY, train, predict, merge): {elapsed:.1f} s, {run.records} "
            f"records, {run.pairs_scored} pairs >= {THRESHOLD_REVIEW}, {run.merges} merges, "
            f"{run.reviews} reviews, {run.refused} refused {run.note}"
        )
        scores = score_against_truth(data / "ground_truth.csv")
        print(
            f"after splink: precision {scores.precision:.3f} recall {scores.recall:.3f} "
            f"F1 {scores.f1:.3f}"
        )


# -- part 2: the engine on labelled records ------------------------------------------------


def engine_run(records_wanted: int, seed: int) -> dict:
    """One size, in this (child) process."""
    import pyarrow.compute as pc

    from cdp.site.demo.labelled_records import make_population, pairwise_scores, to_table
    from identity.engine import matching as engine

    figures: dict = {"records": 0}
    # make_population gives about 1.9 records per person.
    records, truth = make_population(round(records_wanted / 1.9), seed=seed)
    table = to_table(records)
    figures["records"] = table.num_rows

    started = time.perf_counter()
    model = engine.train_model(table, seed=0)
    figures["train_s"] = time.perf_counter() - started

    started = time.perf_counter()
    pairs = engine.predict_pairs(table, model, threshold=THRESHOLD_REVIEW, memory_limit="4GB")
    figures["predict_s"] = time.perf_counter() - started
    figures["pairs"] = len(pairs)
    clusters = engine.cluster_pairs(
        table["unique_id"].to_pylist(), pairs, threshold=THRESHOLD_MERGE
    )
    figures["precision"], figures["recall"], figures["f1"] = pairwise_scores(clusters, truth)

    # The ceiling: plain Splink, same model, same prepared table, no wrapper.
    from splink import DuckDBAPI, Linker

    prepared = engine.without_placeholders(engine.prepare_records(table))
    started = time.perf_counter()
    linker = Linker(DuckDBAPI().register(prepared, dataset_display_name="plain"), model)
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD_REVIEW)
    counted = predictions.query_sql("SELECT count(*) AS n FROM {this}").as_pyarrow_table()
    figures["plain_pairs"] = counted["n"][0].as_py()
    figures["plain_predict_s"] = time.perf_counter() - started

    members: dict[int, list[int]] = {}
    for uid, person in truth.items():
        members.setdefault(person, []).append(uid)
    for new_count in (1_000, 10_000):
        if new_count * 5 > table.num_rows:
            continue
        ids = table["unique_id"]
        newest = pc.greater(ids, pc.max(ids).as_py() - new_count)  # ids are shuffled
        new, existing = table.filter(newest), table.filter(pc.invert(newest))
        started = time.perf_counter()
        found = engine.predict_new_against_existing(
            existing, new, model, threshold=THRESHOLD_REVIEW, memory_limit="4GB"
        )
        figures[f"incremental_{new_count}_s"] = time.perf_counter() - started
        sure = [p for p in found if p.match_probability >= THRESHOLD_MERGE]
        right = sum(truth[p.left_id] == truth[p.right_id] for p in sure)
        # True pairs with a new record in them: with an existing record, or with another
        # new one (counted once).
        new_ids = set(new["unique_id"].to_pylist())
        expected = sum(
            1
            for uid in new_ids
            for other in members[truth[uid]]
            if other != uid and (other not in new_ids or other < uid)
        )
        figures[f"incremental_{new_count}_precision"] = right / len(sure) if sure else 1.0
        figures[f"incremental_{new_count}_recall"] = right / expected if expected else 1.0
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def engine_sizes(sizes: list[int], seed: int) -> None:
    for size in sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--engine-child", str(size), "--seed", str(seed)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "cdp.settings"},
        )
        if child.returncode:
            print(child.stderr[-3000:])
            raise SystemExit(f"the {size}-record run failed")
        f = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"splink engine, {f['records']:,} records: train {f['train_s']:.1f} s, "
            f"predict {f['predict_s']:.1f} s ({f['pairs']:,} pairs >= {THRESHOLD_REVIEW}), "
            f"plain Splink predict {f['plain_predict_s']:.1f} s ({f['plain_pairs']:,} pairs), "
            f"precision {f['precision']:.3f} recall {f['recall']:.3f} F1 {f['f1']:.3f}, "
            f"peak RSS {f['peak_rss_mb']:,.0f} MB"
        )
        for new_count in (1_000, 10_000):
            if f"incremental_{new_count}_s" in f:
                print(
                    f"  incremental: {new_count:,} new against {f['records'] - new_count:,}: "
                    f"{f[f'incremental_{new_count}_s']:.1f} s, precision "
                    f"{f[f'incremental_{new_count}_precision']:.3f} recall "
                    f"{f[f'incremental_{new_count}_recall']:.3f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000, help="part 1; 0 skips it")
    parser.add_argument(
        "--records", default="100000,1000000", help="part 2: sizes, comma-separated; '' skips"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="part 1: skip the ANALYZE after ingestion (autovacuum would have run one)",
    )
    parser.add_argument("--engine-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
        print(json.dumps(engine_run(args.engine_child, args.seed)))
        return
    print(f"machine: {machine()}")
    if args.customers:
        stitching(args.customers, args.seed, args.postgres, analyze=not args.no_analyze)
    sizes = [int(size) for size in args.records.split(",") if size.strip()]
    if sizes:
        engine_sizes(sizes, args.seed)


if __name__ == "__main__":
    main()
