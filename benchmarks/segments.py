"""Segments over a million profiles in PostgreSQL: full refresh of 20 segments, and the
incremental re-evaluation of the profiles a batch changed.

    python benchmarks/segments.py --profiles 1000000 --touchpoints 20000000

Drops and recreates the database (default `omnitrail_bench_segments`), migrates it and
loads generated, seeded touchpoints with COPY, reusing the loader of
benchmarks/attribution_refresh.py (sessions over 90 days ending 2026-09-21, ~3% orders,
1% merged profiles, analytics consent records). Profiles get traits (city, age, plan,
email, first name; the loader gives the country) with one UPDATE, then VACUUM ANALYZE
(autovacuum is off on the benchmark machine).

The clock runs as if today were the end of the generated period (Django's
`timezone.now` is shifted back, durations unchanged), so "in the last 30 days" and
"days since last order" mean what they would on live data.

Then, in this process and timed: `refresh_facts()` for every profile; 20 segments of
mixed rules (traits, events with counts, windows and properties, facts, channels,
membership of other segments, AND/OR/NOT, two with a consent purpose) saved with
`save_segment` and fully refreshed by `refresh_segments()`, one segment per call (each
split into its rules' query, its consent check and the writes), twice: the first time
every member enters, the second nothing changed. Then one new touchpoint for each of
1,000 random profiles and `reevaluate_profiles()` over them (their facts anew, then
their membership of all 20 segments). Target: the 20 full refreshes under two minutes,
the incremental run under two seconds. Figures are printed, never asserted.

A segment whose refresh is still running after `--segment-timeout` seconds is cancelled
and reported as timed out. `--reuse` skips the load when the database already holds
touchpoints; `--keep-facts` (with `--reuse`) uses the facts an earlier run computed
instead of refreshing them first, timing the segments alone; `--set name=value` changes
a PostgreSQL setting for the session (to try a fix); `--explain N` prints the plans of
the N slowest segments' queries.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attribution_refresh as loader  # noqa: E402  (its generator and COPY loader)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/omnitrail_bench_segments"
END = datetime.fromtimestamp(loader.END_US / 10**6, tz=UTC)  # end of the generated period
CHANGED = 1_000  # profiles changed for the incremental run
CITIES = {
    "US": ["New York", "San Francisco", "San Diego", "Chicago", "Austin", "Seattle"],
    "CA": ["Toronto", "Montreal", "Vancouver"],
    "AU": ["Sydney", "Melbourne"],
    "DE": ["Berlin", "Munich", "Hamburg"],
    "FR": ["Paris", "Lyon", "Marseille"],
    "NL": ["Amsterdam", "Rotterdam"],
    "ES": ["Madrid", "Barcelona", "San Sebastian"],
    "IT": ["Rome", "Milan"],
    "GB": ["London", "Manchester"],
    "BR": ["Sao Paulo", "Rio de Janeiro"],
}
PLANS = ("free", "plus", "pro", "enterprise")
PLAN_SHARE = (0.6, 0.2, 0.15, 0.05)
NAMES = ("Ann", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon")


# --- data ---------------------------------------------------------------------------------


def database_has_touchpoints(database_url: str) -> bool:
    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres") as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
    with psycopg.connect(database_url) as connection:
        found = connection.execute(
            "SELECT to_regclass('cdp_touchpoint') IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM cdp_touchpoint)"
        ).fetchone()[0]
    return bool(found)


def load(database_url: str, touchpoints: int, profiles: int, seed: int) -> float:
    """attribution_refresh.generate_and_load in a child process (so that the peak RSS
    printed later is this process's); returns its wall time."""
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(
        target=loader.generate_and_load, args=(database_url, touchpoints, profiles, seed)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"loading failed (exit code {child.exitcode})")
    return time.perf_counter() - started


def add_traits(database_url: str, seed: int) -> tuple[int, float]:
    """City (of the profile's country), age, plan, and for 70% an email and a first name,
    merged into every profile's traits with one UPDATE; then VACUUM ANALYZE the table.
    Returns (profiles changed, seconds); (0, 0) when they already have them."""
    started = time.perf_counter()
    with psycopg.connect(database_url) as connection:
        if connection.execute(
            "SELECT EXISTS (SELECT 1 FROM cdp_profile WHERE traits ? 'city')"
        ).fetchone()[0]:
            return 0, 0.0
        ids, countries = zip(
            *connection.execute("SELECT id, traits ->> 'country' FROM cdp_profile ORDER BY id"),
            strict=True,
        )
        rng = np.random.default_rng(seed + 1)
        count = len(ids)
        pick = rng.integers(0, 1 << 30, count)
        city = [
            CITIES[c][k % len(CITIES[c])] for c, k in zip(countries, pick.tolist(), strict=True)
        ]
        age = rng.integers(18, 81, count)
        plan = np.array(PLANS)[rng.choice(len(PLANS), count, p=PLAN_SHARE)]
        known = rng.random(count) < 0.7
        first = np.array(NAMES)[pick % len(NAMES)]
        email = [
            f"{name.lower()}.{pk}@example.com" if has else None
            for name, pk, has in zip(first.tolist(), ids, known.tolist(), strict=True)
        ]
        connection.execute(
            "UPDATE cdp_profile AS p SET traits = p.traits || jsonb_strip_nulls("
            "jsonb_build_object('city', t.city, 'age', t.age, 'plan', t.plan, "
            "'email', t.email, 'first_name', CASE WHEN t.email IS NULL THEN NULL "
            "ELSE t.first_name END)) "
            "FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[], %s::text[], "
            "%s::text[]) AS t(id, city, age, plan, email, first_name) WHERE p.id = t.id",
            (list(ids), city, age.tolist(), plan.tolist(), email, first.tolist()),
        )
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE cdp_profile")
    return count, time.perf_counter() - started


def shift_clock() -> None:
    """Make Django's timezone.now() run from the end of the generated period."""
    from django.utils import timezone

    real_now = timezone.now
    offset = real_now() - END

    def now():
        return real_now() - offset

    timezone.now = now


# --- segments -----------------------------------------------------------------------------


def definitions(persona: str | None) -> list[tuple[str, dict, str | None]]:
    """(name, definition, purpose) of the 20 segments; `{"segment": "<name>"}` refers to
    an earlier one by name (replaced by its id when saving)."""
    segments = [
        ("Lives in Paris", {"trait": "city", "op": "equals", "value": "Paris"}, None),
        ("Aged 25-34", {"trait": "age", "op": "between", "value": [25, 34]}, None),
        (
            "Paying plan with an email",
            {
                "all": [
                    {"trait": "plan", "op": "in", "value": ["pro", "enterprise"]},
                    {"trait": "email", "op": "is_set"},
                ]
            },
            None,
        ),
        ("City name contains San", {"trait": "city", "op": "contains", "value": "san"}, None),
        ("Buyers", {"event": "Order Completed"}, None),
        (
            "Repeat buyers, 60 days",
            {"event": "Order Completed", "at_least": 2, "within_days": 60},
            None,
        ),
        (
            "Cart abandoners, 7 days",
            {
                "all": [
                    {"event": "Product Added", "within_days": 7},
                    {"event": "Order Completed", "did": False, "within_days": 7},
                ]
            },
            None,
        ),
        ("Never bought", {"event": "Order Completed", "did": False}, None),
        (
            "Viewed the sale page, 30 days",
            {"event": "Sale", "within_days": 30, "where": {"path": "/sale"}},
            None,
        ),
        ("Email clickers, 30 days", {"event": "Email Link Clicked", "within_days": 30}, None),
        (
            "First touch Paid Social",
            {"fact": "first_touch_channel", "op": "equals", "value": "Paid Social"},
            None,
        ),
        ("High CLV", {"fact": "clv", "op": "gte", "value": 300}, None),
        (
            "Big spenders, 3+ orders",
            {
                "all": [
                    {"fact": "total_revenue", "op": "gt", "value": 250},
                    {"fact": "order_count", "op": "gte", "value": 3},
                ]
            },
            None,
        ),
        ("RFM 12+", {"fact": "rfm_score", "op": "gte", "value": 12}, None),
        (
            "Lapsed 45+ days, not EU",
            {
                "all": [
                    {"fact": "days_since_last_order", "op": "gt", "value": 45},
                    {"not": {"trait": "country", "op": "in", "value": list(loader.EU)}},
                ]
            },
            None,
        ),
        (
            "Email and Paid Search, or Organic Social",
            {
                "any": [
                    {"all": [{"channel": "Email"}, {"channel": "Paid Search"}]},
                    {"channel": "Organic Social"},
                ]
            },
            None,
        ),
        (
            "Buyers outside Paris, not high CLV",
            {
                "all": [
                    {"segment": "Buyers"},
                    {"segment": "Lives in Paris", "member": False},
                    {"not": {"segment": "High CLV"}},
                ]
            },
            None,
        ),
        (
            "Persona" if persona is None else f"Persona: {persona}",
            {"fact": "persona", "op": "equals", "value": persona or "-"},
            None,
        ),
        (
            "Engaged, analytics consent",
            {
                "all": [
                    {
                        "any": [
                            {"fact": "order_count", "op": "gte", "value": 1},
                            {"channel": "Email"},
                        ]
                    },
                    {"trait": "age", "op": "lt", "value": 50},
                ]
            },
            "analytics",
        ),
        (
            "Email openers with an email, email consent",
            {
                "all": [
                    {"trait": "email", "op": "is_set"},
                    {"event": "Email Opened", "within_days": 30},
                ]
            },
            "email_marketing",
        ),
    ]
    return segments


def rule_kinds(node: dict) -> str:
    from attribution.segments.rules import walk

    kinds = []
    for rule in walk(node):
        for kind in ("trait", "event", "fact", "channel", "segment"):
            if kind in rule and kind not in kinds:
                kinds.append(kind)
        for group in ("all", "any", "not"):
            if group in rule and group.upper() not in kinds:
                kinds.append(group.upper())
    return "+".join(kinds)


def with_ids(node, ids: dict[str, int]):
    if isinstance(node, dict):
        return {
            key: ids[value] if key == "segment" else with_ids(value, ids)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [with_ids(child, ids) for child in node]
    return node


def vacuum(connection, *models) -> None:
    """VACUUM ANALYZE the models' tables, as autovacuum would after a bulk change."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def create_segments() -> list:
    from attribution.models import FactsModel, Segment, SegmentMembership
    from attribution.segments.services import save_segment

    SegmentMembership.objects.all().delete()  # a --reuse run starts over
    Segment.objects.all().delete()
    model = FactsModel.objects.order_by("-computed_at", "-pk").first()
    personas = sorted(model.personas, key=lambda p: -p.get("size", 0)) if model else []
    persona = personas[0]["label"] if personas else None
    ids: dict[str, int] = {}
    made = []
    for name, definition, purpose in definitions(persona):
        segment = save_segment(name=name, definition=with_ids(definition, ids), purpose=purpose)
        ids[name] = segment.pk
        made.append(segment)
    return made


def explain(segment, *, analyze: bool, top_lines: int = 40) -> None:
    """The plan of the segment's query as the refresh runs it: through the WITH HOLD
    cursor of QuerySet.iterator() (planned for the first cursor_tuple_fraction of the
    rows), and without it. Run (ANALYZE) unless the refresh timed out."""
    from django.db import connection, transaction

    from attribution.segments.selectors import candidates

    sql, params = candidates(segment.definition).query.sql_with_params()
    how = "EXPLAIN (ANALYZE, BUFFERS)" if analyze else "EXPLAIN"
    for label, statement in (
        (
            "as the refresh runs it (a cursor)",
            f"DECLARE bench NO SCROLL CURSOR WITH HOLD FOR {sql}",
        ),
        ("as a plain SELECT", sql),
    ):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"{how} {statement}", params)
            lines = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
        print(f"\n{how} of {segment.name!r}, {label}:")
        for line in lines[:top_lines]:
            print(f"  {line}")
        if len(lines) > top_lines:
            print(f"  ... ({len(lines) - top_lines} more lines)")


class Timings:
    """While entered: the wall time of each segment's refresh (`segment`), of its
    evaluate() (`evaluate`: the rules' query and consent), of its consent check
    (`consent`), and of refresh_facts (`facts`, under None), by segment name."""

    def __init__(self):
        self.spent: dict[str | None, dict[str, float]] = {}
        self.current: str | None = None
        self.originals: list = []

    def __enter__(self):
        from attribution.segments import selectors, services

        self._wrap(services, "refresh_segment", "segment")
        self._wrap(services, "evaluate", "evaluate")
        self._wrap(selectors, "allowed_profiles", "consent")
        self._wrap(services, "refresh_facts", "facts")
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.originals):
            setattr(owner, name, original)
        self.originals.clear()

    def _wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        self.originals.append((owner, name, original))

        def timed(*args, **kwargs):
            if label == "segment":
                self.current = args[0].name
            elif label == "facts":
                self.current = None
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent = self.spent.setdefault(self.current, {})
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - began

        setattr(owner, name, timed)


@dataclass
class FullRefresh:
    results: dict
    timed_out: list
    timings: Timings
    seconds: float


def full_refresh(segments: list, database_url: str, timeout: float) -> FullRefresh:
    """refresh_segments() over `segments` in dependency order, one segment per call so
    that one still running after `timeout` seconds is cancelled and reported."""
    from django.db import OperationalError

    from attribution.segments.services import refresh_segments

    timings = Timings()
    results, timed_out = {}, []
    started = time.perf_counter()
    with timings:
        for segment in segments:
            try:
                with Watchdog(database_url, timeout):
                    [result] = refresh_segments([segment])
                results[result.segment] = result
            except OperationalError as error:
                if not isinstance(error.__cause__, psycopg.errors.QueryCanceled):
                    raise
                timed_out.append(segment.name)
    return FullRefresh(results, timed_out, timings, time.perf_counter() - started)


class Watchdog:
    """Cancel the query this process's database connection runs if the block takes more
    than `seconds`: the block then raises QueryCanceled. (statement_timeout does not do:
    a WITH HOLD cursor, as QuerySet.iterator() opens, runs its query at commit, after
    PostgreSQL has disarmed the timeout.)"""

    def __init__(self, database_url: str, seconds: float):
        self.database_url = database_url
        self.seconds = seconds
        self.timer: threading.Timer | None = None

    def __enter__(self):
        from django.db import connection

        connection.ensure_connection()
        pid = connection.connection.info.backend_pid
        self.timer = threading.Timer(self.seconds, self._cancel, args=(pid,))
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()

    def _cancel(self, pid: int) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as other:
            other.execute("SELECT pg_cancel_backend(%s)", (pid,))


# --- the changed profiles -----------------------------------------------------------------


def add_touchpoints(seed: int) -> list[int]:
    """One new touchpoint for each of CHANGED random active profiles, stamped now: an
    Order Completed (web) for half, an Email Link Clicked for the others."""
    from django.db import transaction
    from django.utils import timezone

    from cdp.models import Profile, Source, Touchpoint
    from cdp.services.bulk import copy_rows

    active = np.fromiter(
        Profile.objects.filter(merged_into__isnull=True).values_list("pk", flat=True).iterator(),
        dtype=np.int64,
    )
    rng = np.random.default_rng(seed + 2)
    chosen = sorted(int(pk) for pk in rng.choice(active, CHANGED, replace=False))
    web = Source.objects.get(name="bench-web").pk
    email = Source.objects.get(name="bench-email").pk
    now = timezone.now()
    run = int(time.time())
    rows = []
    for number, pk in enumerate(chosen):
        order = number % 2 == 0
        revenue = round(float(rng.gamma(2.0, 40.0)) + 5, 2)
        rows.append(
            {
                "source_id": web if order else email,
                "message_id": f"bench-incremental-{run}-{number}",
                "type": "track",
                "event": "Order Completed" if order else "Email Link Clicked",
                "anonymous_id": f"anon-{pk}",
                "user_id": f"user-{pk}",
                "timestamp": now,
                "received_at": now,
                "properties": {"revenue": revenue, "currency": "USD"}
                if order
                else {"url": "https://shop.example.com/sale"},
                "utm_source": "" if order else "newsletter",
                "utm_medium": "" if order else "email",
                "utm_campaign": "" if order else "weekly-14",
                "revenue": revenue if order else None,
                "currency": "USD" if order else "",
                "profile_id": pk,
                "resolved_at": now,
            }
        )
    with transaction.atomic():
        copy_rows(Touchpoint, rows)
    return chosen


# --- the run ------------------------------------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--touchpoints", type=int, default=20_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--reuse", action="store_true", help="skip the load when the database holds touchpoints"
    )
    parser.add_argument(
        "--keep-facts",
        action="store_true",
        help="with --reuse: use the profile facts an earlier run computed instead of "
        "refreshing them first (times the segments alone)",
    )
    parser.add_argument(
        "--explain",
        type=int,
        default=0,
        metavar="N",
        help="print EXPLAIN ANALYZE of the N slowest segments' queries",
    )
    parser.add_argument(
        "--segment-timeout",
        type=float,
        default=300,
        metavar="SECONDS",
        help="a segment's refresh (and the incremental run) still running after this is "
        "cancelled and reported",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for this process's session, e.g. work_mem=64MB or "
        "cursor_tuple_fraction=1 (to try a fix)",
    )
    args = parser.parse_args()

    import pandas as pd

    with psycopg.connect(args.database_url.rpartition("/")[0] + "/postgres") as admin:
        server = admin.execute("SHOW server_version").fetchone()[0].split()[0]
        settings = {
            name: admin.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "work_mem", "autovacuum")
        }
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GB RAM, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        f"PostgreSQL {server} ({', '.join(f'{k} {v}' for k, v in settings.items())}), "
        f"NumPy {np.__version__}, pandas {pd.__version__}"
    )

    if args.reuse and database_has_touchpoints(args.database_url):
        print(f"reusing {args.database_url.rpartition('/')[2]} (--reuse)")
    else:
        print(
            f"loading {args.touchpoints:,} touchpoints for {args.profiles:,} profiles ...",
            flush=True,
        )
        seconds = load(args.database_url, args.touchpoints, args.profiles, args.seed)
        print(f"load (generate, migrate, COPY, indexes, ANALYZE): {seconds:.1f} s")
    changed, seconds = add_traits(args.database_url, args.seed)
    if changed:
        print(f"traits for {changed:,} profiles (UPDATE, VACUUM ANALYZE): {seconds:.1f} s")

    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")  # no broker is reached
    os.environ.pop("REDIS_URL", None)
    loader.django_setup(args.database_url)
    shift_clock()
    from django.db import OperationalError, connection

    from attribution.models import FactsModel, ProfileChannel, ProfileFacts, SegmentMembership
    from attribution.segments.services import (
        in_dependency_order,
        reevaluate_profiles,
        refresh_facts,
    )
    from cdp.models import Profile, Touchpoint

    for setting in args.set:
        name, _, value = setting.partition("=")
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, false)", [name.strip(), value.strip()])
        print(f"session setting {name.strip()} = {value.strip()} (--set)")
    touchpoints = Touchpoint.objects.count()
    profiles = Profile.objects.filter(merged_into__isnull=True).count()
    print(
        f"database: {touchpoints:,} touchpoints, {profiles:,} active profiles; "
        f"the clock reads {END:%Y-%m-%d} (end of the generated period)"
    )

    if args.keep_facts and FactsModel.objects.exists():
        facts_seconds = 0.0
        kept = FactsModel.objects.order_by("-computed_at").first()
        print(
            "\nrefresh_facts() not run (--keep-facts): the facts computed at "
            f"{kept.computed_at:%Y-%m-%d %H:%M} (shifted clock) are used, "
            f"{ProfileFacts.objects.count():,} profiles with facts"
        )
    else:
        # A --reuse run: an earlier run's facts model, stamped by the same shifted clock,
        # could look newer than this run's and be used for the incremental facts.
        FactsModel.objects.all().delete()
        started = time.perf_counter()
        with_facts = refresh_facts()
        facts_seconds = time.perf_counter() - started
        print(
            f"\nrefresh_facts() (all profiles): {facts_seconds:.1f} s, {with_facts:,} profiles "
            f"with facts, {ProfileChannel.objects.count():,} channel rows; "
            f"peak RSS {peak_mb():,.0f} MB"
        )
        # Both tables were just emptied and filled again; autovacuum (off here) would
        # vacuum and analyze them within a minute (else a --reuse run reads the dead rows
        # of every run before it).
        started = time.perf_counter()
        vacuum(connection, ProfileFacts, ProfileChannel)
        print(
            f"VACUUM ANALYZE of the facts and channel tables: {time.perf_counter() - started:.1f} s"
        )

    segments = in_dependency_order(create_segments())
    vacuum(connection, SegmentMembership)  # a --reuse run just deleted the last run's
    kinds = {segment.name: rule_kinds(segment.definition) for segment in segments}
    purposes = {s.name: s.purpose.key if s.purpose else "" for s in segments}
    timeout = args.segment_timeout
    first = full_refresh(segments, args.database_url, timeout)
    # Millions of memberships were just written; autovacuum (off here) would analyze the
    # table within a minute. Without statistics the planner reads a whole segment to
    # find the 1,000 changed profiles (4 s instead of 0.01 s per segment).
    started = time.perf_counter()
    vacuum(connection, SegmentMembership)
    print(f"VACUUM ANALYZE of the membership table: {time.perf_counter() - started:.1f} s")
    # Again, nothing having changed: what the refresh every few minutes costs.
    again = full_refresh(
        [s for s in segments if s.name not in first.timed_out], args.database_url, timeout
    )
    width = max(len(segment.name) for segment in segments)
    print(f"\nfull refresh of {len(segments)} segments (refresh_segments(), one by one):")
    print(
        f"  {'segment':<{width}}  {'rules':<28} {'seconds':>8} {'query':>7} {'consent':>7} "
        f"{'write':>6} {'size':>9} {'consent out':>11} {'again':>7}  purpose"
    )
    for segment in segments:
        name = segment.name
        if name in first.timed_out:
            print(
                f"  {name:<{width}}  {kinds[name]:<28} TIMED OUT: still running after "
                f"{timeout:.0f} s (--segment-timeout); not run again"
            )
            continue
        result = first.results[name]
        spent = first.timings.spent.get(name, {})
        query = spent.get("evaluate", 0.0) - spent.get("consent", 0.0)
        write = result.seconds - spent.get("evaluate", 0.0)
        second = again.results.get(name)
        print(
            f"  {name:<{width}}  {kinds[name]:<28} {result.seconds:8.2f} {query:7.2f} "
            f"{spent.get('consent', 0.0):7.2f} {write:6.2f} {result.size:>9,} "
            f"{result.left_out_for_consent:>11,} "
            f"{f'{second.seconds:7.2f}' if second else '      -'}  {purposes[name]}"
        )
    print(f"  {'total':<{width}}  {'':<28} {first.seconds:8.1f}{'':46}{again.seconds:7.1f}")
    print(
        "  seconds: the first refresh (every member enters), split into the rules' query, "
        "the purpose's consent check\n  and writing the entries; again: a second refresh, "
        "nothing having changed. Totals are wall time, timed-out segments included.\n"
        f"  Target: all 20 in under 120 s; with the facts refresh before: "
        f"{first.seconds + facts_seconds:.1f} s"
    )
    print(f"peak RSS {peak_mb():,.0f} MB")

    ids = add_touchpoints(args.seed)
    timings = Timings()
    outcome = None
    started = time.perf_counter()
    with timings:
        try:
            with Watchdog(args.database_url, timeout):
                outcome = reevaluate_profiles(ids)
        except OperationalError as error:
            if not isinstance(error.__cause__, psycopg.errors.QueryCanceled):
                raise
    incremental = time.perf_counter() - started
    print(
        f"\nincremental: one new touchpoint for each of {len(ids):,} profiles, "
        f"reevaluate_profiles(): {incremental:.2f} s (target < 2 s)"
    )
    facts = timings.spent.get(None, {}).get("facts", 0.0)
    per_segment = {name: spent for name, spent in timings.spent.items() if name is not None}
    if outcome is None:
        print(
            f"  FAILED: a query of {timings.current!r} ran over {timeout:.0f} s (--segment-timeout)"
        )
    print(
        f"  their facts {facts:.2f} s, their membership of {len(per_segment)} segments "
        f"{sum(spent.get('segment', 0.0) for spent in per_segment.values()):.2f} s"
    )
    slowest = sorted(per_segment.items(), key=lambda item: -item[1].get("segment", 0.0))
    for name, spent in slowest[:5]:
        query = spent.get("evaluate", 0.0) - spent.get("consent", 0.0)
        print(
            f"    {name:<{width}}  {spent.get('segment', 0.0):6.2f} s "
            f"(query {query:.2f}, consent {spent.get('consent', 0.0):.2f})"
        )
    if outcome is not None:
        print(f"  entered {outcome['entered']:,}, exited {outcome['exited']:,}")
    print(f"peak RSS {peak_mb():,.0f} MB")

    if args.explain:
        ranked = sorted(
            segments,
            key=lambda s: (
                -(timeout if s.name in first.timed_out else first.results[s.name].seconds)
            ),
        )
        for segment in ranked[: args.explain]:
            explain(segment, analyze=segment.name not in first.timed_out)


if __name__ == "__main__":
    main()
