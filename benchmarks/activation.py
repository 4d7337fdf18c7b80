"""Activation at scale in PostgreSQL: computed traits (ten of mixed kinds) over every
profile, their incremental refresh for 1,000 changed profiles, a hashed audience file,
and the peak memory of each step beside its time.

    python benchmarks/activation.py --profiles 1000000 --touchpoints 20000000

Targets (issue 21): the ten traits' full refresh under 2 minutes, the incremental one
under 2 s, an audience file of 500,000 members under 30 s, and a peak under 2 GB at any
population size (today `refresh_facts()` over a million profiles peaks at 12.1 GB).
Figures are printed, never asserted.

Loads the data of benchmarks/attribution_refresh.py (sessions over 90 days, ~3% orders
with revenue, page views with a path) and the traits of benchmarks/segments.py (70%
with an email and a first name), into its own database (default
`omnitrail_bench_activation`; `--reuse` skips the load when it holds touchpoints). The
clock runs as if today were the end of the generated period.

Before each step, the tables autovacuum would have vacuumed or analysed by then (it is
off on the benchmark machine) are; the load average is printed beside each figure.
Each step runs in a fresh child process, so its peak RSS (printed) is its own:
`refresh_facts()` for every profile (facts and the computed traits with them);
`refresh_traits()` alone for every profile; `refresh_traits()` for 1,000 random
profiles; a full Google Ads Customer Match delivery of a segment of everyone with an
email (every member granted ad_user_data and ad_personalization first), its size in
bytes: `audience` a first one (what the platform was told before is forgotten first,
untimed, so every member is recorded as given), `audience_again` the same delivery
repeated (nothing new to record).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path
from queue import Empty

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attribution_refresh as loader  # noqa: E402  (its generator and COPY loader)
import segments as segment_bench  # noqa: E402  (its traits and its clock)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/omnitrail_bench_activation"
CHANGED = 1_000
FOLDER = "/tmp/omnitrail-bench-activation/files"
TRAITS = [
    # key, kind, event, property, window days
    ("orders", "count", "Order Completed", "", None),
    ("orders_30d", "count", "Order Completed", "", 30),
    ("email_clicks_30d", "count", "Email Link Clicked", "", 30),
    ("revenue", "sum", "Order Completed", "revenue", None),
    ("basket", "average", "Order Completed", "revenue", None),
    ("largest_order", "max", "Order Completed", "revenue", None),
    ("smallest_order_90d", "min", "Order Completed", "revenue", 90),
    ("favourite_path", "most_frequent", "Product", "path", None),
    ("last_path", "last", "Product", "path", None),
    ("paths_seen", "unique_count", "Product", "path", None),
]


def _setup(database_url: str) -> None:
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.setdefault("OMNITRAIL_EXPORT_DIR", str(Path(FOLDER).parent))  # files inside
    os.environ.pop("REDIS_URL", None)
    loader.django_setup(database_url)
    segment_bench.shift_clock()


def _step(database_url: str, name: str, arg: object, queue) -> None:
    """In a child process: one timed step; puts (seconds, peak MB, what it says)."""
    _setup(database_url)
    if name in BEFORE:
        BEFORE[name](arg)
    started = time.perf_counter()
    said = STEPS[name](arg)
    queue.put((time.perf_counter() - started, loader.peak_mb(), said))


def step_refresh_facts(_) -> str:
    from attribution.segments.services import refresh_facts

    return f"{refresh_facts():,} profiles with facts"


def step_traits_full(_) -> str:
    from attribution.traits.services import refresh_traits

    return f"{refresh_traits():,} profiles computed"


def step_traits_incremental(ids) -> str:
    from attribution.traits.services import refresh_traits

    return f"{refresh_traits(ids):,} profiles computed"


def forget_deliveries(_) -> None:
    """Before `audience` (untimed): the platform forgets what it was told, so that the
    delivery is a first one (every member recorded as given)."""
    from attribution.models import Destination, DestinationMember

    destination = Destination.objects.get(name="bench: Google Ads")
    DestinationMember.objects.filter(destination=destination).delete()


def step_audience(folder) -> str:
    """A full delivery: a first one after `forget_deliveries`, or (`audience_again`) one
    to a platform told of every member already (nothing new recorded)."""
    from attribution.models import Destination, Segment
    from attribution.segments.audiences import deliver_audience

    segment = Segment.objects.get(name="bench: everyone with an email")
    destination = Destination.objects.get(name="bench: Google Ads")
    export = deliver_audience(destination, segment, full=True)
    size = Path(export.path).stat().st_size
    return (
        f"{export.rows:,} rows, {size / 2**20:.1f} MiB, "
        f"{export.left_out_for_consent:,} left out for consent"
    )


STEPS = {
    "refresh_facts": step_refresh_facts,
    "traits_full": step_traits_full,
    "traits_incremental": step_traits_incremental,
    "audience": step_audience,
    "audience_again": step_audience,
}
BEFORE = {"audience": forget_deliveries}  # untimed, in the step's process


def run(database_url: str, name: str, arg: object = None) -> tuple[float, float, str]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_step, args=(database_url, name, arg, queue))
    child.start()
    while True:  # a child that fails says so (its traceback) instead of hanging the run
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not child.is_alive():
                raise SystemExit(f"{name} failed (exit code {child.exitcode})") from None
    child.join()
    return result


def autovacuum(database_url: str) -> str:
    """VACUUM ANALYZE (or ANALYZE) each table whose dead rows (changed rows) pass
    autovacuum's default thresholds, 50 rows + 20 % (10 %): what it would have done
    between the steps on a server where it runs (it is off on the benchmark machine)."""
    import psycopg

    done = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT s.relname, n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0), "
            "n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
        ).fetchall()
        for table, dead, changed in tables:
            if dead or changed:
                started = time.perf_counter()
                command = "VACUUM (ANALYZE)" if dead else "ANALYZE"
                connection.execute(f'{command} "{table}"')
                done.append(f"{command} {table} {time.perf_counter() - started:.1f} s")
    return "; ".join(done) or "nothing to vacuum"


def prepare(folder: Path, seed: int) -> list[int]:
    """The ten traits, the audience segment (refreshed), its destination, the consent of
    its members to both advertising purposes; returns the profiles to change."""
    import numpy as np
    from django.utils import timezone

    from attribution.models import ComputedTrait, Destination, Segment
    from attribution.segments.services import refresh_segment, save_segment
    from cdp.models import Profile
    from consent.models import ConsentRecord, Purpose

    wanted = {k: (kind, e, p, w) for k, kind, e, p, w in TRAITS}
    have = {
        t.key: (t.kind, t.event, t.property, t.window_days) for t in ComputedTrait.objects.all()
    }
    if have != wanted:  # (a --reuse run keeps the traits, segment and destination it made)
        ComputedTrait.objects.all().delete()
        ComputedTrait.objects.bulk_create(
            ComputedTrait(key=k, name=k, kind=kind, event=e, property=p, window_days=w)
            for k, (kind, e, p, w) in wanted.items()
        )
    segment = Segment.objects.filter(name="bench: everyone with an email").first()
    destination = Destination.objects.filter(name="bench: Google Ads").first()
    if segment is None or destination is None or destination.path != str(folder):
        Destination.objects.filter(name="bench: Google Ads").delete()
        Segment.objects.filter(name="bench: everyone with an email").delete()
        segment = save_segment(
            name="bench: everyone with an email", definition={"trait": "email", "op": "is_set"}
        )
        refresh_segment(segment)
        destination = Destination.objects.create(
            name="bench: Google Ads",
            kind="google_ads",
            purpose=Purpose.objects.get(key="ad_user_data"),
            path=str(folder),
        )
        destination.segments.add(segment)
    purposes = list(Purpose.objects.filter(key__in=["ad_user_data", "ad_personalization"]))
    members = list(segment.memberships.filter(exited_at=None).values_list("profile_id", flat=True))
    given = ConsentRecord.objects.filter(purpose__in=purposes, channel="import")
    if given.count() == len(members) * len(purposes):  # a --reuse run: granted already
        members = []
    else:
        given.delete()
    # Granted a day before the end of the generated period: in force whatever the
    # shifted clock of each child process reads.
    granted = segment_bench.END - timezone.timedelta(days=1)
    for start in range(0, len(members), 20_000):
        ConsentRecord.objects.bulk_create(
            ConsentRecord(profile_id=pk, purpose=purpose, status="granted", given_at=granted,
                          channel="import", evidence={"benchmark": True})
            for pk in members[start : start + 20_000]
            for purpose in purposes
        )  # fmt: skip
    ids = np.array(Profile.objects.filter(merged_into=None).values_list("pk", flat=True))
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(ids, min(CHANGED, len(ids)), replace=False).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--folder", default=FOLDER)
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="which steps, comma-separated, in the order to run (default: all)",
    )
    args = parser.parse_args()
    os.environ["OMNITRAIL_EXPORT_DIR"] = str(Path(args.folder).parent)  # the files go inside

    if args.reuse and segment_bench.database_has_touchpoints(args.database_url):
        print(f"reusing {args.database_url.rpartition('/')[2]} (--reuse)")
    else:
        print(f"loading {args.touchpoints:,} touchpoints for {args.profiles:,} profiles ...")
        seconds = segment_bench.load(args.database_url, args.touchpoints, args.profiles, args.seed)
        print(f"load: {seconds:.1f} s")
    changed, seconds = segment_bench.add_traits(args.database_url, args.seed)
    if changed:
        print(f"traits for {changed:,} profiles: {seconds:.1f} s")
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    _setup(args.database_url)
    ids = prepare(folder, args.seed)

    target = {
        "refresh_facts": "peak under 2 GB",
        "traits_full": "under 120 s, peak under 2 GB",
        "traits_incremental": "under 2 s",
        "audience": "500,000 members under 30 s",
        "audience_again": "500,000 members under 30 s",
    }
    given = {"refresh_facts": None, "traits_full": None, "traits_incremental": ids,
             "audience": folder, "audience_again": folder}  # fmt: skip
    for name in args.steps.split(","):  # in the order asked
        arg = given[name]
        print(f"  before {name}: {autovacuum(args.database_url)}", flush=True)
        seconds, peak, said = run(args.database_url, name, arg)
        load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
        print(
            f"{name:<20} {seconds:8.2f} s  peak RSS {peak:8.0f} MB  {said}  "
            f"(target: {target[name]}; load average {load})",
            flush=True,
        )


if __name__ == "__main__":
    main()
