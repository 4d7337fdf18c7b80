"""The pages under /app/ on the million-profile benchmark database: how long each takes.

    python benchmarks/segments.py   # first: 1M profiles, 20M touchpoints, facts, 20 segments
    python benchmarks/pages.py      # then this, on the same database

Works on the database benchmarks/segments.py left (default `omnitrail_bench_segments`).
What the pages read is prepared once, timed and printed: an attribution run over all
20M touchpoints (`refresh_attribution`, when the database has no completed run), and
200 pending identity-review pairs between random profiles (when there are none).

Then, as a signed-in superuser through Django's test client (the whole request: routing,
middleware, sessions, the view, its queries, the template), each page is fetched
`--repeat` times: the overview, attribution, journeys, the segment list, the largest
segment (first and a deep page of members), a customer search, the 360° page of the
profile with the most touchpoints, and the identity review queue. Printed: median and
slowest time, the queries one request makes, and the page's size. Target: every page
under one second. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import attribution_refresh as loader  # noqa: E402  (its django_setup)
import segments as segments_benchmark  # noqa: E402  (its clock, shifted to the data's end)

DEFAULT_URL = segments_benchmark.DEFAULT_URL


def prepare_attribution() -> None:
    from attribution.models import AttributionRun
    from attribution.services import refresh_attribution

    if AttributionRun.objects.filter(status="completed").exists():
        print("attribution run: reusing the latest completed run")
        return
    started = time.perf_counter()
    run = refresh_attribution("purchase")
    print(
        f"attribution run (refresh_attribution, once): {time.perf_counter() - started:.1f} s, "
        f"{run.conversions:,} conversions"
    )


def prepare_reviews(seed: int) -> None:
    from cdp.models import Profile
    from identity.models import MatchReview

    if MatchReview.objects.filter(status=MatchReview.Status.PENDING).exists():
        return
    top = (
        Profile.objects.filter(merged_into__isnull=True)
        .order_by("-pk")
        .values_list("pk", flat=True)[:1][0]
    )
    rng = np.random.default_rng(seed)
    pairs = {
        tuple(sorted(pair)) for pair in rng.integers(1, top, size=(200, 2)) if pair[0] != pair[1]
    }
    active = set(
        Profile.objects.filter(
            pk__in=[pk for pair in pairs for pk in pair], merged_into=None
        ).values_list("pk", flat=True)
    )
    levels = {"first_name": "exact", "surname": "fuzzy (jaro-winkler > 0.88)", "city": "exact"}
    MatchReview.objects.bulk_create(
        MatchReview(
            left_id=int(a),
            right_id=int(b),
            match_probability=0.8 + 0.1 * rng.random(),
            levels=levels,
        )
        for a, b in pairs
        if a in active and b in active
    )


def pages(client) -> list[tuple[str, str]]:
    from django.db import connection

    from attribution.models import Segment

    largest = Segment.objects.order_by("-size").first()
    deep = max(1, largest.size // 50 // 2)
    with connection.cursor() as cursor:
        # The busiest customer: the longest timeline to show.
        cursor.execute(
            "SELECT profile_id FROM cdp_touchpoint WHERE profile_id IS NOT NULL "
            "GROUP BY profile_id ORDER BY count(*) DESC LIMIT 1"
        )
        busiest = cursor.fetchone()[0]
    from cdp.models import Profile

    email = Profile.objects.filter(traits__has_key="email", merged_into=None).values_list(
        "traits__email", flat=True
    )[:1][0]
    return [
        ("overview", "/app/"),
        ("attribution", "/app/attribution/"),
        ("journeys", "/app/journeys/"),
        ("segment list", "/app/segments/"),
        (f"segment ({largest.size:,} members)", f"/app/segments/{largest.pk}/"),
        (f"segment, page {deep:,} of members", f"/app/segments/{largest.pk}/?page={deep}"),
        ("customer search (email)", f"/app/profiles/?q={email}"),
        ("360° (busiest profile)", f"/app/profiles/{busiest}/"),
        ("identity review queue", "/app/identity/review/"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    if not segments_benchmark.database_has_touchpoints(args.database_url):
        raise SystemExit("no benchmark data: run `python benchmarks/segments.py` first")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
    os.environ.pop("REDIS_URL", None)
    loader.django_setup(args.database_url)
    segments_benchmark.shift_clock()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from cdp.models import Profile, Touchpoint

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; database: {Touchpoint.objects.count():,} touchpoints, "
        f"{Profile.objects.filter(merged_into=None).count():,} active profiles"
    )
    prepare_attribution()
    prepare_reviews(args.seed)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-pages", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)

    print(f"\n{'page':<38} {'median ms':>9} {'max ms':>7} {'queries':>7} {'KB':>6}  status")
    for label, path in pages(client):
        times, status, queries, size = [], None, 0, 0
        for attempt in range(args.repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            status, queries, size = response.status_code, len(captured), len(response.content)
            if attempt == 0 and status != 200:
                break
        print(
            f"{label:<38} {statistics.median(times):>9.0f} {max(times):>7.0f} {queries:>7} "
            f"{size / 1024:>6.0f}  {status}"
        )


if __name__ == "__main__":
    main()
