"""A full attribution refresh over stored touchpoints in PostgreSQL: wall time of each step.

    python benchmarks/attribution_refresh.py --touchpoints 10000000

Drops and recreates the database (default `omnitrail_bench_attr`), migrates it and loads
generated, seeded touchpoints with COPY: about ten per profile (a heavy tail of busy
profiles) over 90 days, in sessions of page and screen views that enter through ~20
channel mixes (UTM parameters, referrers, gclid/msclkid/fbclid click ids, the site's own
pages as referrers of the views that follow), email opens and clicks, ad clicks, push
and SMS opens, product events and identifies (not touches), and 3% Order Completed with
revenue (a tenth of them in-store). 1% of the profiles were merged into another; EU and
UK profiles need analytics consent (55% gave it), 2% of the others withdrew it.
Autovacuum is off on the benchmark machine, so the script runs VACUUM ANALYZE after loading.

Then, in this process: `touch_frame()` alone, and `refresh_attribution("purchase")` with
all models end to end, split into its steps (consent, reading and classifying the
touches, cutting the journeys, each model, the path reports, storing the credits). The
load runs in a child process so that the peak memory printed is the refresh's. Figures
are printed, never asserted. `--reuse` skips the load when the database is there.
"""

from __future__ import annotations

import argparse
import functools
import io
import multiprocessing
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/omnitrail_bench_attr"
SITE = "shop.example.com"
DAYS = 90
END_US = 1_790_000_000 * 10**6  # 2026-09-21, the end of the generated period
CHUNK = 1_000_000  # rows per COPY chunk
EU = ("DE", "FR", "NL", "ES", "IT", "GB")
COUNTRIES = ("US", "CA", "AU", "DE", "FR", "NL", "ES", "IT", "GB", "BR")
COUNTRY_SHARE = (0.50, 0.07, 0.05, 0.08, 0.07, 0.04, 0.04, 0.04, 0.08, 0.03)

# Entry mixes of a visit: share, utm_source, utm_medium, campaigns, referrers, click id.
ENTRIES = (
    (0.22, "", "", [""], [""], ""),
    (0.20, "", "", [""], ["https://www.google.com/", "https://www.bing.com/",
                          "https://duckduckgo.com/", "https://search.yahoo.com/"], ""),
    (0.08, "google", "cpc", ["brand", "generic", "competitor", "hiking-boots"],
     ["https://www.google.com/"], "gclid"),
    (0.01, "bing", "cpc", ["brand-bing"], ["https://www.bing.com/"], "msclkid"),
    (0.05, "facebook", "paid_social", ["retargeting", "prospecting", "lookalike"],
     ["https://l.facebook.com/"], "fbclid"),
    (0.05, "", "", [""], ["https://l.facebook.com/", "https://t.co/", "https://www.linkedin.com/",
                          "https://www.reddit.com/r/hiking/", "https://www.instagram.com/"], ""),
    (0.07, "newsletter", "email", [f"weekly-{week:02d}" for week in range(1, 14)], [""], ""),
    (0.05, "", "", [""], [f"https://blog{k}.example.org/posts/{m}" for k in range(500)
                          for m in range(20)], ""),
    (0.03, "gdn", "display", ["retarget", "awareness"],
     ["https://googleads.g.doubleclick.net/"], ""),
    (0.01, "youtube", "cpv", ["preroll"], ["https://www.youtube.com/"], ""),
    (0.015, "", "", [""], ["https://www.youtube.com/", "https://m.youtube.com/"], ""),
    (0.025, "partner-network", "affiliate", [f"aff-{n}" for n in range(40)],
     [f"https://deals{n}.example.net/" for n in range(40)], ""),
    (0.015, "ebay", "cpc", ["ebay-ads"], ["https://www.ebay.com/"], ""),
    (0.01, "", "", [""], ["https://www.amazon.com/"], ""),
    (0.01, "sms", "sms", ["flash-sale"], [""], ""),
    (0.01, "app", "push", ["push-promo"], [""], ""),
    (0.004, "spotify", "podcast", ["podcast-q3"], [""], ""),
    (0.01, "google", "cpc", ["cross-network-pmax"], [""], "gclid"),
    (0.008, "partnerx", "paid", ["native-ads"], [""], ""),
    (0.008, "qr", "print", ["flyer"], [""], ""),
)  # fmt: skip
PATHS = ["/", "/sale", "/cart"] + [f"/products/p-{k}" for k in range(250)]
PAGE_NAMES = ["Home", "Sale", "Cart"] + ["Product"] * 250
# Shares of all touchpoints; page and screen views are the rest.
SHARES = {
    "Email Opened": 0.04,
    "Email Link Clicked": 0.015,
    "Ad Clicked": 0.01,
    "Push Notification Opened": 0.007,
    "SMS Link Clicked": 0.003,
    "Product Added": 0.08,
    "identify": 0.02,
    "web orders": 0.027,
    "store orders": 0.003,
}


# --- generating and loading ------------------------------------------------------------


def concat(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def text(values) -> pa.Array:
    return pa.array(values, type=pa.string())


def pick(options, codes: np.ndarray) -> pa.Array:
    return pc.take(text(list(options)), pa.array(codes))


def copy_rows(cursor, table: str, columns: dict[str, pa.Array | str | None], count: int) -> None:
    """COPY `count` rows in; a column given as a str or None is that constant."""
    arrays = {
        name: value
        if isinstance(value, pa.Array | pa.ChunkedArray)
        else pa.nulls(count, pa.string())
        if value is None
        else pa.array(np.full(count, value, dtype=object), type=pa.string())
        for name, value in columns.items()
    }
    names = ", ".join(f'"{name}"' for name in arrays)
    buffer = io.BytesIO()
    pa_csv.write_csv(
        pa.table(arrays), buffer, write_options=pa_csv.WriteOptions(include_header=False)
    )
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


def without_indexes(connection, table: str):
    """Drop the table's secondary indexes and constraints for a bulk load; returns the
    statements that put them back."""
    restore = []
    for name, definition in connection.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
        (table,),
    ).fetchall():
        connection.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in connection.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        (table, table),
    ).fetchall():
        connection.execute(f'DROP INDEX "{name}"')
        restore.insert(0, definition)
    return restore


def generate_and_load(database_url: str, touchpoints: int, profiles: int, seed: int) -> None:
    """In a child process: recreate and migrate the database, then COPY the data in."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    django_setup(database_url)
    from django.core.management import call_command

    from cdp.services.sources import create_source
    from consent.models import Purpose

    call_command("migrate", verbosity=0)
    sources = {
        kind: create_source(f"bench-{kind}", kind=kind)[0].pk
        for kind in ("web", "app", "email", "ads", "pos")
    }
    analytics = Purpose.objects.get(key="analytics").pk
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        connection.execute("SET maintenance_work_mem = '1GB'")
        active = load_profiles(connection, cursor, rng, profiles, analytics)
        restore = without_indexes(connection, "cdp_touchpoint")
        load_touchpoints(cursor, rng, touchpoints, active, sources)
        print(f"  rows copied in {time.perf_counter() - started:.1f} s; indexes ...", flush=True)
        for statement in restore:
            connection.execute(statement)
        connection.commit()
        connection.autocommit = True
        # VACUUM too: index-only scans need the visibility map autovacuum (off here) builds.
        connection.execute("VACUUM ANALYZE")


def load_profiles(connection, cursor, rng, count: int, analytics: int) -> np.ndarray:
    """Profiles 1..count, 1% merged into another; consent records. The active ids."""
    ids = np.arange(1, count + 1)
    merged = rng.random(count) < 0.01
    active = ids[~merged]
    into = np.where(merged, rng.choice(active, count), 0)
    country = rng.choice(len(COUNTRIES), count, p=COUNTRY_SHARE)
    now = "2026-09-21 00:00:00+00"
    restore = without_indexes(connection, "cdp_profile")
    copy_rows(
        cursor,
        "cdp_profile",
        {
            "id": pa.array(ids).cast(pa.string()),
            "traits": concat('{"country": "', pick(COUNTRIES, country), '"}'),
            "trait_sources": "{}",
            "merged_into_id": pa.array(into, mask=~merged).cast(pa.string()),
            "created_at": now,
            "updated_at": now,
        },
        count,
    )
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('cdp_profile', 'id'), %s)", (int(ids[-1]),)
    )
    for statement in restore:
        connection.execute(statement)
    eu = np.isin(country, [COUNTRIES.index(c) for c in EU])
    granted = eu & (rng.random(count) < 0.55)
    withdrawn = ~eu & (rng.random(count) < 0.02)
    who = np.flatnonzero(granted | withdrawn)
    copy_rows(
        cursor,
        "consent_consentrecord",
        {
            "profile_id": pa.array(ids[who]).cast(pa.string()),
            "purpose_id": str(analytics),
            "status": pick(("granted", "withdrawn"), withdrawn[who].astype(np.int64)),
            "given_at": "2026-05-01 00:00:00+00",
            "channel": "segment",
            "evidence": "{}",
            "recorded_at": now,
        },
        len(who),
    )
    return active


def load_touchpoints(cursor, rng, count: int, active: np.ndarray, sources: dict) -> None:
    """Generate every touchpoint as numbers first, then COPY them in time order in chunks."""
    weight = rng.gamma(0.6, size=len(active))
    weight /= weight.sum()
    span = DAYS * 86_400 * 10**6
    counts = {name: int(share * count) for name, share in SHARES.items()}
    views = count - sum(counts.values())

    # Visits: an entry (channel mix), a landing page, then views 20 s to 5 min apart.
    lengths = 1 + rng.geometric(0.4, size=views // 2)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), views) + 1]
    lengths[-1] -= lengths.sum() - views
    visits = len(lengths)
    visit_start = END_US - rng.integers(0, span, visits)
    visit_profile = rng.choice(active, visits, p=weight)
    shares = np.array([entry[0] for entry in ENTRIES])
    entry = rng.choice(len(ENTRIES), visits, p=shares / shares.sum())
    app = rng.random(visits) < 0.05
    entry[app] = np.where(rng.random(int(app.sum())) < 0.8, 0, PUSH)  # direct, or a push
    visit = np.repeat(np.arange(visits), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    step = np.arange(views) - first[visit]
    gaps = rng.integers(20_000_000, 300_000_000, views)
    gaps[first] = 0
    cumulative = np.cumsum(gaps)
    at = visit_start[visit] + cumulative - cumulative[first][visit]
    row_entry = np.where(step == 0, entry[visit], -1)
    page = rng.integers(0, len(PATHS), views)
    choice = rng.integers(0, 1 << 30, views)
    later = step > 0  # the view before is the referrer
    columns = {
        "profile": visit_profile[visit],
        "at": at,
        "kind": np.where(app[visit], 1, 0),
        "entry": row_entry,
        "page": page,
        "choice": choice,
        "uid": np.arange(views),
        "previous_entry": np.where(later, np.roll(row_entry, 1), -2),
        "previous_page": np.roll(page, 1),
        "previous_choice": np.roll(choice, 1),
        "previous_uid": np.arange(views) - 1,
    }

    def events(kind: int, number: int, at=None, profile=None) -> dict:
        return {
            "profile": rng.choice(active, number, p=weight) if profile is None else profile,
            "at": END_US - rng.integers(0, span, number) if at is None else at,
            "kind": np.full(number, kind),
            "entry": np.full(number, -1),
            "page": rng.integers(0, len(PATHS), number),
            "choice": rng.integers(0, 1 << 30, number),
            "uid": np.zeros(number, dtype=np.int64),
            "previous_entry": np.full(number, -2),
            "previous_page": np.zeros(number, dtype=np.int64),
            "previous_choice": np.zeros(number, dtype=np.int64),
            "previous_uid": np.zeros(number, dtype=np.int64),
        }

    parts = [columns]
    for kind, name in enumerate(list(SHARES)[:7], start=2):
        parts.append(events(kind, counts[name]))
    # Web orders end a visit a few minutes after its last view.
    ordering = rng.choice(visits, counts["web orders"], replace=False)
    last = first + lengths - 1
    parts.append(
        events(
            9,
            len(ordering),
            at=at[last[ordering]] + rng.integers(30_000_000, 900_000_000, len(ordering)),
            profile=visit_profile[ordering],
        )
    )
    parts.append(events(10, counts["store orders"]))
    rows = {name: np.concatenate([part[name] for part in parts]) for name in columns}
    order = np.argsort(rows["at"], kind="stable")  # stored in arrival order, roughly
    rows = {name: values[order] for name, values in rows.items()}
    for start in range(0, count, CHUNK):
        chunk = {name: values[start : start + CHUNK] for name, values in rows.items()}
        copy_rows(
            cursor, "cdp_touchpoint", touchpoint_columns(chunk, start, sources), len(chunk["at"])
        )
        print(f"  {min(start + CHUNK, count):,} touchpoints", flush=True)


PUSH = 15  # the entry of app pushes
CAMPAIGNS = sorted({c for entry in ENTRIES for c in entry[3]})
REFERRERS = sorted({r for entry in ENTRIES for r in entry[4]})


def landing(page, entry, choice, uid) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """(utm_source, utm_medium, utm_campaign, URL) of views: a visit's first view carries
    its entry's UTM parameters and click id (entry -1: none)."""
    has = pa.array(entry >= 0)
    entry = np.maximum(entry, 0)
    source = pc.if_else(has, pick([e[1] for e in ENTRIES], entry), "")
    medium = pc.if_else(has, pick([e[2] for e in ENTRIES], entry), "")
    campaign = pc.if_else(has, pick(CAMPAIGNS, _one_of(entry, choice, 3, CAMPAIGNS)), "")
    click = pick([e[5] for e in ENTRIES], entry)
    token = pc.cast(pa.array(uid * 7_919 + choice), pa.string())
    click = pc.if_else(pc.not_equal(click, ""), concat("&", click, "=Cj0KCQjw", token), "")
    query = concat(
        "?utm_source=", source, "&utm_medium=", medium, "&utm_campaign=", campaign, click
    )
    query = pc.if_else(pc.and_(has, pc.not_equal(source, "")), query, "")
    return source, medium, campaign, concat(f"https://{SITE}", pick(PATHS, page), query)


def touchpoint_columns(rows: dict, offset: int, sources: dict) -> dict:
    count = len(rows["at"])
    kind, choice = rows["kind"], rows["choice"]
    # kind: 0 web view, 1 app screen, 2.. the events of SHARES in order (8: identify),
    # 9 web order, 10 store order.
    types = np.select([kind == 0, kind == 1, kind == 8], [0, 1, 3], default=2)
    track_names = ["", "", *list(SHARES)[:7], "Order Completed", "Order Completed"]
    source = np.select(
        [kind == 1, np.isin(kind, [2, 3]), kind == 4, np.isin(kind, [5, 6]), kind == 10],
        [sources["app"], sources["email"], sources["ads"], sources["app"], sources["pos"]],
        default=sources["web"],
    )
    utm_source, utm_medium, utm_campaign, url = landing(
        rows["page"], rows["entry"], choice, rows["uid"]
    )
    # Emails and ads say their campaign; ads their network too.
    mailing = pa.array(np.isin(kind, [2, 3]))
    weekly = pick([f"weekly-{week:02d}" for week in range(1, 14)], choice % 13)
    utm_campaign = pc.if_else(mailing, weekly, utm_campaign)
    ad = pa.array(kind == 4)
    utm_source = pc.if_else(ad, pick(("google", "facebook"), choice % 2), utm_source)
    utm_medium = pc.if_else(ad, pick(("cpc", "paid_social"), choice % 2), utm_medium)
    utm_campaign = pc.if_else(ad, pick(("brand", "retargeting"), choice % 2), utm_campaign)
    web_view = kind == 0
    page_url = pc.if_else(pa.array(web_view), url, "")
    previous = landing(
        rows["previous_page"],
        np.maximum(rows["previous_entry"], -1),
        rows["previous_choice"],
        rows["previous_uid"],
    )[3]
    entered = pick(REFERRERS, _one_of(np.maximum(rows["entry"], 0), choice, 4, REFERRERS))
    referrer = pc.if_else(
        pa.array(web_view & (rows["entry"] >= 0)),
        entered,
        pc.if_else(pa.array(web_view & (rows["previous_entry"] > -2)), previous, ""),
    )
    event = pc.if_else(
        pa.array(kind >= 2),
        pick(track_names, kind % len(track_names)),
        pc.if_else(pa.array(kind == 1), "Product Screen", pick(PAGE_NAMES, rows["page"])),
    )
    order = np.isin(kind, [9, 10])
    amount = np.round(np.random.default_rng(offset).gamma(2.0, 40.0, count) + 5, 2)
    revenue = pa.array(amount, mask=~order).cast(pa.string())
    properties = pc.if_else(
        pa.array(order),
        concat('{"revenue": ', pc.fill_null(revenue, "0"), ', "currency": "USD"}'),
        concat('{"path": "', pick(PATHS, rows["page"]), '"}'),
    )
    context = concat(
        '{"page": {"url": "',
        page_url,
        '", "referrer": "',
        referrer,
        '"}, "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15", '
        '"library": {"name": "analytics.js", "version": "next-1.72.0"}}',
    )
    timestamp = pa.array(rows["at"].astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC"))
    profile = pa.array(rows["profile"]).cast(pa.string())
    return {
        "source_id": pa.array(source).cast(pa.string()),
        "message_id": concat("bench-", pc.cast(pa.array(offset + np.arange(count)), pa.string())),
        "type": pick(("page", "screen", "track", "identify"), types),
        "event": pc.if_else(pa.array(types == 3), "", event),
        "anonymous_id": concat("anon-", profile),
        "user_id": concat("user-", profile),
        "previous_id": "",
        "group_id": "",
        "timestamp": timestamp,
        "received_at": timestamp,
        "properties": properties,
        "traits": "{}",
        "context": context,
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
        "utm_term": "",
        "utm_content": "",
        "page_url": page_url,
        "referrer": referrer,
        "user_agent": "",
        "device_id": "",
        "device_type": "",
        "revenue": revenue,
        "currency": "",
        "browser": "Safari",  # the enrichment columns (cdp.engine.enrichment) of that agent
        "os": "Mac OS X",
        "is_bot": "false",
        "extras": "{}",
        "profile_id": profile,
        "resolved_at": timestamp,
    }


def _one_of(entry: np.ndarray, choice: np.ndarray, field: int, names: list[str]) -> np.ndarray:
    """For each row, one of its entry's options (ENTRIES[entry][field], by `choice`), as
    an index into `names`."""
    lookup = {name: i for i, name in enumerate(names)}
    options = [entry_options[field] for entry_options in ENTRIES]
    widths = np.array([len(o) for o in options])
    table = np.zeros((len(options), widths.max()), dtype=np.int64)
    for index, values in enumerate(options):
        table[index, : len(values)] = [lookup[value] for value in values]
    return table[entry, choice % widths[entry]]


# --- timing the refresh ----------------------------------------------------------------


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ["OMNITRAIL_OWN_DOMAINS"] = SITE
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")
    import django

    django.setup()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock:
    """Wraps functions to add up the wall time spent in each, by label."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.marks: dict[str, float] = {}

    def wrap(self, label: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            self.marks.setdefault(f"{label} start", started)
            try:
                return function(*args, **kwargs)
            finally:
                now = time.perf_counter()
                self.spent[label] = self.spent.get(label, 0.0) + now - started
                self.marks[f"{label} end"] = now

        return timed


def time_refresh() -> None:
    from django.db import connection

    from attribution.engine import paths
    from attribution.engine.models import MODELS
    from attribution.selectors import journeys as journeys_module
    from attribution.services import refresh_attribution
    from cdp.models import Profile, Touchpoint

    runs = sys.modules[refresh_attribution.__module__]
    touchpoints = Touchpoint.objects.count()
    profiles = Profile.objects.filter(merged_into__isnull=True).count()
    print(f"database: {touchpoints:,} touchpoints, {profiles:,} active profiles")
    connection.close()

    started = time.perf_counter()
    frame = journeys_module.touch_frame(events=["Order Completed"])
    elapsed = time.perf_counter() - started
    print(
        f"\ntouch_frame() alone: {elapsed:.1f} s for {len(frame):,} touch rows, "
        f"{frame['channel'].nunique()} channels ({frame.memory_usage(deep=True).sum() / 2**20:,.0f}"
        f" MB); peak RSS so far {peak_mb():,.0f} MB"
    )
    del frame

    clock = Clock()
    originals = []

    def patch(owner, name, label):
        originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, clock.wrap(label, getattr(owner, name)))

    patch(journeys_module, "allowed_profiles", "consent (allowed_profiles)")
    patch(journeys_module, "touch_frame", "touch rows (touch_frame)")
    patch(journeys_module, "cut_journeys", "cutting journeys")
    patch(runs, "journeys_for_goal", "journeys")
    patch(runs, "channel_totals", "channel totals")
    for name in ("top_paths", "path_lengths", "time_to_convert", "assisted_conversions"):
        patch(paths, name, "path reports")
    # Steps services/runs.py may have besides (timed when it has them).
    extras = [
        name
        for name in (
            "channel_pairs",
            "_daily_revenue",
            "_cost_by_channel",
            "funnel_report",
            "clv_report",
            "holdout_report",
            "_touch_rows",
            "_monthly_touches",
            "_performance_touches",
            "post_click",
            "_email_figures",
            "reconcile_conversions",
            "credited_by_month",
            "position_credit",
            "credited_by_line",
        )
        if callable(getattr(runs, name, None))
    ]
    for name in extras:
        patch(runs, name, name)
    for name in list(MODELS):
        originals.append((MODELS, name, MODELS[name]))
        MODELS[name] = clock.wrap(f"model {name}", MODELS[name])
    try:
        started = time.perf_counter()
        run = refresh_attribution("purchase")
        total = time.perf_counter() - started
    finally:
        for owner, name, original in reversed(originals):
            if owner is MODELS:
                MODELS[name] = original
            else:
                setattr(owner, name, original)
    spent = clock.spent
    parts = ("consent (allowed_profiles)", "touch rows (touch_frame)", "cutting journeys")
    print(f"\nrefresh_attribution('purchase'), all {len(MODELS)} models:")
    print(f"  journeys built             {spent['journeys']:7.1f} s")
    for label in parts:
        print(f"    {label:<28} {spent[label]:7.1f} s")
    other = spent["journeys"] - sum(spent[label] for label in parts)
    print(f"    {'active profiles, rest':<28} {other:7.1f} s")
    counted = spent["journeys"]
    for name in MODELS:
        print(f"  model {name:<20} {spent[f'model {name}']:7.1f} s")
        counted += spent[f"model {name}"]
    for label in ("channel totals", "path reports", *extras):
        print(f"  {label:<26} {spent.get(label, 0.0):7.1f} s")
        counted += spent.get(label, 0.0)
    print(f"  storing the credits and the run, the rest {total - counted:5.1f} s")
    print(f"  total                      {total:7.1f} s")
    print(f"peak RSS {peak_mb():,.0f} MB")
    print(
        f"\n{run.journeys:,} journeys, {run.conversions:,} conversions worth {run.value:,}, "
        f"{run.profiles_left_out_for_consent:,} profiles left out for consent, "
        f"{run.summary['conversions_without_touch']:,} conversions without a touch, "
        f"{run.credits.count():,} credit rows"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--touchpoints", type=int, default=10_000_000)
    parser.add_argument("--profiles", type=int, help="default: a tenth of --touchpoints")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database")
    args = parser.parse_args()
    profiles = args.profiles or max(1, args.touchpoints // 10)

    import pandas as pd
    import psycopg

    with psycopg.connect(args.database_url.rpartition("/")[0] + "/postgres") as admin:
        server = admin.execute("SHOW server_version").fetchone()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {server}, NumPy {np.__version__}, "
        f"pandas {pd.__version__}, pyarrow {pa.__version__}"
    )
    if not args.reuse:
        print(f"loading {args.touchpoints:,} touchpoints for {profiles:,} profiles ...", flush=True)
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=generate_and_load,
            args=(args.database_url, args.touchpoints, profiles, args.seed),
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise SystemExit(f"loading failed (exit code {child.exitcode})")
        print(
            f"load (generate, migrate, COPY, indexes, ANALYZE): "
            f"{time.perf_counter() - started:.1f} s"
        )
    django_setup(args.database_url)
    time_refresh()


if __name__ == "__main__":
    main()
