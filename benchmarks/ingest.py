"""How many events per second the Segment HTTP API accepts, next to what PostgreSQL can take.

    python benchmarks/ingest.py --events 200000 --clients 8 --workers 3

Runs the web process as in production (gunicorn, PostgreSQL, Redis) against a throwaway
database `omnitrail_bench`, dropped and recreated each run. Identity work is enqueued to
Redis database 15 but no worker runs, so this measures acceptance: validate, dedupe,
write the raw touchpoints, commit, enqueue. The same rows are then loaded with one COPY
(and with COPY in request-sized transactions) into the emptied table: the ceiling.

Clients are separate processes, each a keep-alive requests.Session posting 100-event
/v1/batch bodies (Basic-auth write key, sentAt stamped at send time) as the official
libraries do. Events come from `cdp.site.demo.population` (web.ndjson) when it is there, else
from a small synthesiser below. Loopback only; every loop is bounded.

Figures are printed, never asserted. The machine is shared by clients, gunicorn, Redis
and PostgreSQL, so the CPU seconds each used are printed too.
"""

from __future__ import annotations

import argparse
import gzip as gzip_module
import multiprocessing
import os
import platform
import queue
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import psycopg
import redis
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BENCH_DB = "omnitrail_bench"
REDIS_URL = "redis://127.0.0.1:6379/15"
BATCH_SIZE = 100
# A batch answered 429 or 5xx is sent again, at most this many times, then counted as lost.
MAX_ATTEMPTS = 5
WARM_UP_REQUESTS = 3
# How long anyone waits for the others at the start line: a client that died never arrives.
BARRIER_TIMEOUT = 120
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- events ---------------------------------------------------------------------------------


def population_events(count: int, seed: int, workdir: Path) -> tuple[list[bytes], str]:
    """`count` web events (one JSON object per item) from the demo population."""
    from cdp.site.demo.population import WEB_FILE, generate_population

    customers = max(1, count // 14)
    for _ in range(5):
        written = generate_population(customers, seed, workdir)[WEB_FILE]
        if written >= count:
            break
        customers = int(customers * count / max(written, 1) * 1.1) + 1
    with (workdir / WEB_FILE).open("rb") as stream:
        lines = [line.rstrip(b"\n") for _, line in zip(range(count), stream, strict=False)]
    if len(lines) < count:
        raise SystemExit(f"the population gave {len(lines)} web events, {count} asked")
    return lines, f"cdp.site.demo.population web.ndjson ({customers:,} customers, seed {seed})"


CAMPAIGNS = [
    {"source": "google", "medium": "cpc", "name": "autumn-sale"},
    {"source": "facebook", "medium": "paid_social", "name": "retargeting"},
    {"source": "newsletter", "medium": "email", "name": "weekly-2026-09"},
    None,
    None,
]
PATHS = ["/", "/sale", "/products/canyon-hiking-boots", "/products/trail-jacket", "/cart"]


def synthesized_events(count: int, seed: int) -> tuple[list[bytes], str]:
    """Page views, product views and orders of anonymous and signed-in visitors."""
    rng = random.Random(seed)
    start = datetime(2026, 8, 1, tzinfo=UTC)
    events: list[bytes] = []
    while len(events) < count:
        anonymous_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        user_id = f"user-{rng.randrange(10**7)}" if rng.random() < 0.4 else None
        at = start + timedelta(seconds=rng.randrange(90 * 86400))
        campaign = rng.choice(CAMPAIGNS)
        query = (
            f"?utm_source={campaign['source']}&utm_medium={campaign['medium']}"
            f"&utm_campaign={campaign['name']}"
            if campaign
            else ""
        )
        for step in range(rng.randint(2, 12)):
            path = rng.choice(PATHS)
            context = {
                "ip": f"198.51.100.{rng.randrange(1, 255)}",
                "library": {"name": "analytics.js", "version": "next-1.72.0"},
                "page": {"url": f"https://shop.example.com{path}{query}", "path": path},
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
            }
            if campaign:
                context["campaign"] = campaign
            event = {
                "type": "page",
                "name": path.strip("/") or "Home",
                "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "anonymousId": anonymous_id,
                "timestamp": (at + timedelta(seconds=30 * step)).isoformat(),
                "context": context,
                "properties": {"path": path, "url": context["page"]["url"]},
            }
            if user_id and step == 1:
                event |= {"type": "identify", "userId": user_id, "traits": {"plan": "free"}}
            elif rng.random() < 0.05:
                event |= {
                    "type": "track",
                    "event": "Order Completed",
                    "properties": {"revenue": rng.randrange(1000, 30000) / 100, "currency": "USD"},
                }
            events.append(orjson.dumps(event))
    return events[:count], f"synthesized (seed {seed})"


def batch_prefixes(events: list[bytes]) -> list[bytes]:
    """Each 100-event body, serialised once, up to the sentAt a client stamps when sending."""
    return [
        b'{"batch":[' + b",".join(events[i : i + BATCH_SIZE]) + b'],"sentAt":"'
        for i in range(0, len(events), BATCH_SIZE)
    ]


# --- clients --------------------------------------------------------------------------------

# Filled in before the client processes fork, so they share it without copying.
BODIES: list[bytes] = []


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    lost_batches: int = 0
    finished_at: float = 0.0
    cpu_seconds: float = 0.0


def run_client(
    url: str, write_key: str, batches: list[int], use_gzip: bool, barrier, results
) -> None:
    session = requests.Session()
    session.auth = (write_key, "")
    headers = {"Content-Type": "application/json", "User-Agent": "omnitrail-bench"}
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    result = ClientResult()
    # Warm-up, not timed or counted: empty batches make each worker connect to PostgreSQL
    # and Redis and load its views before the clock starts.
    empty = b'{"batch":[]}'
    for _ in range(WARM_UP_REQUESTS):
        body = gzip_module.compress(empty) if use_gzip else empty
        session.post(url, data=body, headers=headers, timeout=60).raise_for_status()
    barrier.wait(timeout=BARRIER_TIMEOUT)
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    for index in batches:
        for _ in range(MAX_ATTEMPTS):
            sent_at = datetime.now(UTC).isoformat(timespec="milliseconds").encode()
            body = BODIES[index] + sent_at + b'"}'
            if use_gzip:
                body = gzip_module.compress(body, compresslevel=6)
            started = time.perf_counter()
            response = session.post(url, data=body, headers=headers, timeout=120)
            elapsed = time.perf_counter() - started
            result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                answer = orjson.loads(response.content)
                result.latencies.append(elapsed)
                result.accepted += answer["accepted"]
                result.duplicates += answer["duplicates"]
                result.rejected += len(answer["rejected"])
                break
            if response.status_code not in (429, 500, 502, 503, 504):
                result.lost_batches += 1
                break
            time.sleep(min(float(response.headers.get("Retry-After", "0.2")), 1.0))
        else:
            result.lost_batches += 1
    result.finished_at = time.perf_counter()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = (cpu_end.ru_utime - cpu_start.ru_utime) + (
        cpu_end.ru_stime - cpu_start.ru_stime
    )
    session.close()
    results.put(result)


BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
ORIGIN = "https://shop.example.com"


def browser_event(index: int, write_key: str) -> bytes:
    """One analytics.js-shaped track call, as /v1/t receives it (text/plain, writeKey in it)."""
    return orjson.dumps(
        {
            "event": "Product Viewed",
            "anonymousId": f"browser-{index % 5000}",
            "messageId": f"browser-{index}",
            "writeKey": write_key,
            "properties": {"sku": f"SKU-{index % 300}", "price": "$19.99", "currency": "usd"},
            "originalTimestamp": datetime.now(UTC).isoformat(),
            "context": {
                "page": {
                    "url": f"{ORIGIN}/p/{index % 300}?utm_source=google&utm_medium=cpc",
                    "referrer": "https://www.google.com/",
                    "title": "Boots",
                },
                "userAgent": BROWSER_UA,
                "library": {"name": "analytics.js", "version": "next-1.84.3"},
            },
        }
    )


def run_browser_client(url: str, write_key: str, indices: list[int], barrier, results) -> None:
    """A browser tab's traffic: one CORS preflight (then cached, Max-Age), then one
    single-event POST /v1/t per call with its Origin, as analytics.js sends it."""
    session = requests.Session()
    headers = {"Content-Type": "text/plain", "Origin": ORIGIN, "User-Agent": BROWSER_UA}
    preflight = session.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=60,
    )
    result = ClientResult()
    result.statuses[preflight.status_code * 1000] = 1  # preflights, kept apart (204000)
    barrier.wait(timeout=BARRIER_TIMEOUT)
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    for index in indices:
        body = browser_event(index, write_key)
        started = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=120)
        elapsed = time.perf_counter() - started
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        if response.status_code == 200 and response.headers.get("Access-Control-Allow-Origin"):
            result.latencies.append(elapsed)
            result.accepted += orjson.loads(response.content)["accepted"]
        else:
            result.lost_batches += 1
    result.finished_at = time.perf_counter()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = (cpu_end.ru_utime - cpu_start.ru_utime) + (
        cpu_end.ru_stime - cpu_start.ru_stime
    )
    session.close()
    results.put(result)


@dataclass
class LoadResult:
    """One single-event load: requests answered 200, their rate and latencies, and the
    CPU seconds each role used meanwhile."""

    rate: float
    p50: float
    p99: float
    seconds: float
    statuses: dict[int, int]
    answered: int
    cpu: dict[str, float] = field(default_factory=dict)


def browser_phase(url: str, write_key: str, events: int, clients: int) -> tuple:
    """(events/s, p50, p99, seconds, statuses) of `events` single-event requests from
    `clients` concurrent browser-like client processes."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=run_browser_client,
            args=(url, write_key, list(range(number, events, clients)), barrier, results),
        )
        for number in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(timeout=BARRIER_TIMEOUT)
        started = time.perf_counter()
        outcomes = collect(results, processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
    elapsed = max(outcome.finished_at for outcome in outcomes) - started
    latencies = [latency for outcome in outcomes for latency in outcome.latencies]
    statuses: dict[int, int] = {}
    for outcome in outcomes:
        for status, count in outcome.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    accepted = sum(outcome.accepted for outcome in outcomes)
    answered = sum(len(outcome.latencies) for outcome in outcomes)
    return LoadResult(
        rate=answered / elapsed,
        p50=percentile(latencies, 0.50),
        p99=percentile(latencies, 0.99),
        seconds=elapsed,
        statuses=statuses,
        answered=answered,
        cpu={"clients": sum(outcome.cpu_seconds for outcome in outcomes), "accepted": accepted},
    )


WRK_SCRIPT = Path(__file__).with_name("single_event.lua")
_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk_seconds(text: str) -> float:
    number = float(text.rstrip("usm"))
    unit = text[len(text.rstrip("usm")) :] or "s"
    return number * _WRK_UNITS[unit]


def wrk_phase(url: str, write_key: str, seconds: int, connections: int) -> LoadResult:
    """The same single-event traffic from wrk (a load generator in C, two threads):
    the clients then cost little of the two cores, so the figure is the server's."""
    import re

    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    command += ["-s", str(WRK_SCRIPT), url, "--", write_key, ORIGIN]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 120, check=True
    ).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed = time.perf_counter() - started
    done = re.search(r"(\d+) requests in ([\d.]+\w+)", output)
    if done is None:
        raise SystemExit(f"could not read wrk's answer:\n{output}")
    total, duration = int(done.group(1)), _wrk_seconds(done.group(2))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    bad = int(failed.group(1)) if failed else 0
    latency = dict(re.findall(r"^\s+(50|99)\.000%\s+(\S+)$", output, re.MULTILINE))
    if not latency:
        latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    statuses = {200: total - bad}
    if bad:
        statuses[0] = bad  # wrk does not say which
    if errors:
        print(f"  wrk: socket errors {errors.group(1)}")
    clients = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    del elapsed
    return LoadResult(
        rate=(total - bad) / duration,
        p50=_wrk_seconds(latency["50"]),
        p99=_wrk_seconds(latency["99"]),
        seconds=duration,
        statuses=statuses,
        answered=total - bad,
        cpu={"clients": clients},
    )


def single_event_load(args: argparse.Namespace, url: str, write_key: str) -> LoadResult:
    if args.browser_load == "wrk":
        return wrk_phase(url, write_key, args.browser_seconds, args.browser_clients)
    return browser_phase(url, write_key, args.browser_events, args.browser_clients)


def measured(load, server_pid: int) -> LoadResult:
    """`load()` with the CPU seconds gunicorn, PostgreSQL, Redis and the rest used."""
    before = cpu_by_role(server_pid)
    result = load()
    after = cpu_by_role(server_pid)
    cpu = {role: after[role] - before[role] for role in after}
    cpu["clients"] = result.cpu.get("clients", 0.0)
    busy = cpu.pop("machine")
    cpu["other"] = max(0.0, busy - sum(cpu.values()))
    result.cpu = cpu | {"busy": busy}
    return result


def floor_phase(
    args: argparse.Namespace, env: dict[str, str], write_key: str, app: str
) -> LoadResult:
    """The same load on the same gunicorn serving `app`: benchmarks/floor_app.py (a WSGI
    app that only answers) or floor_django.py (Django, our middleware, a view that only
    answers)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/t"
    command = gunicorn_command(args, port)
    command[command.index("cdp.wsgi")] = app
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(server, url, args.workers)
        return measured(lambda: single_event_load(args, url, write_key), server.pid)
    finally:
        stop(server)


# --- processes and CPU ----------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int, float] | None:
    """(command, parent pid, CPU seconds) of a process, or None if it is gone.

    The seconds include the children it has reaped: PostgreSQL backends that ended (their
    connection reached CONN_MAX_AGE) stay counted through the postmaster.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return command, int(fields[1]), sum(int(value) for value in fields[11:15]) / CLK_TCK


def machine_cpu_seconds() -> float:
    """CPU seconds all processes on the machine have used (busy time from /proc/stat)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / CLK_TCK


def cpu_by_role(gunicorn_pid: int) -> dict[str, float]:
    """CPU seconds used so far by gunicorn's workers, PostgreSQL, Redis and the machine."""
    totals = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0, "machine": machine_cpu_seconds()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(int(entry))
        if stat is None:
            continue
        command, parent, seconds = stat
        if int(entry) == gunicorn_pid or parent == gunicorn_pid:
            totals["gunicorn"] += seconds
        elif command == "postgres":
            totals["postgres"] += seconds
        elif command.startswith("redis-server"):
            totals["redis"] += seconds
    return totals


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_command(args: argparse.Namespace, port: int) -> list[str]:
    installed = Path(sys.executable).with_name("gunicorn")
    command = [str(installed)] if installed.exists() else [sys.executable, "-m", "gunicorn"]
    command += ["cdp.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}"]
    if args.threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(args.threads)]
    return command


def wait_until_serving(server: subprocess.Popen, url: str, workers: int) -> None:
    """Until a worker answers (GET is refused with 405) and every worker has booted."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}; see its log above")
        try:
            if requests.get(url, timeout=2).status_code == 405:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass  # not up yet, or its first request still loading the URL conf
        time.sleep(0.2)
    else:
        raise SystemExit("gunicorn did not answer within 60 s")
    # Workers load Django independently; give the others time to finish booting.
    time.sleep(1.0 + 0.3 * workers)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- database -------------------------------------------------------------------------------


class Analyzer(threading.Thread):
    """ANALYZE cdp_touchpoint whenever autovacuum's default rule would (50 rows + 10 %).

    A server with autovacuum off never gathers statistics on the new table, and the planner
    then picks plans for an empty one; this stands in for the default configuration.
    """

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.stop = threading.Event()
        self.runs = 0
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.analyze_when_due()
        except psycopg.Error as error:
            self.error = error

    def analyze_when_due(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            while not self.stop.wait(0.5):
                changed, rows = connection.execute(
                    "SELECT n_mod_since_analyze, greatest(reltuples, 0) "
                    "FROM pg_stat_user_tables AS stats JOIN pg_class ON pg_class.oid = stats.relid "
                    "WHERE pg_class.relname = 'cdp_touchpoint'"
                ).fetchone()
                if changed > 50 + 0.1 * rows:
                    connection.execute("ANALYZE cdp_touchpoint")
                    self.runs += 1


def admin_connection(base_url: str) -> psycopg.Connection:
    return psycopg.connect(f"{base_url}/postgres", autocommit=True)


def recreate_database(base_url: str) -> None:
    with admin_connection(base_url) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (BENCH_DB,),
        )
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin.execute(f"CREATE DATABASE {BENCH_DB}")


def drop_database(base_url: str) -> None:
    with admin_connection(base_url) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")


def manage(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {arguments[0]} failed:\n{done.stderr}")
    return done.stdout


def copy_ceiling(database_url: str) -> tuple[int, float, float]:
    """Load the stored rows again with COPY into the emptied table; (rows, s one, s per 100)."""
    with psycopg.connect(database_url) as connection:
        columns = ", ".join(
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'cdp_touchpoint' AND column_name <> 'id' "
                "ORDER BY ordinal_position"
            )
        )
        select = f"COPY (SELECT {columns} FROM cdp_touchpoint ORDER BY id) TO STDOUT"
        with connection.cursor() as cursor:
            with cursor.copy(f"{select} (FORMAT binary)") as copy:
                binary = [bytes(chunk) for chunk in copy]
            with cursor.copy(select) as copy:
                text_rows = b"".join(bytes(chunk) for chunk in copy).splitlines(keepends=True)
        connection.commit()
        load = f"COPY cdp_touchpoint ({columns}) FROM STDIN"

        # A throwaway database: nothing else refers to these rows.
        connection.execute("TRUNCATE cdp_touchpoint CASCADE")
        connection.commit()
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(f"{load} (FORMAT binary)") as copy:
            for chunk in binary:
                copy.write(chunk)
        connection.commit()
        one_transaction = time.perf_counter() - started

        connection.execute("TRUNCATE cdp_touchpoint CASCADE")
        connection.commit()
        started = time.perf_counter()
        for start in range(0, len(text_rows), BATCH_SIZE):
            with connection.cursor() as cursor, cursor.copy(load) as copy:
                copy.write(b"".join(text_rows[start : start + BATCH_SIZE]))
            connection.commit()
        per_batch = time.perf_counter() - started
        rows = connection.execute("SELECT count(*) FROM cdp_touchpoint").fetchone()[0]
    return rows, one_transaction, per_batch


# --- the run --------------------------------------------------------------------------------


def collect(results, clients: list) -> list[ClientResult]:
    """Every client's result; stops waiting when a client died without sending one."""
    outcomes: list[ClientResult] = []
    while len(outcomes) < len(clients):
        try:
            outcomes.append(results.get(timeout=5))
        except queue.Empty:
            dead = [client for client in clients if client.exitcode not in (None, 0)]
            if dead:
                raise SystemExit(f"{len(dead)} client(s) failed; see the traceback above") from None
    for client in clients:
        client.join()
    return outcomes


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {memory:.1f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help=">1: gthread workers")
    parser.add_argument("--gzip", action="store_true", help="gzip request bodies")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep-db", action="store_true", help=f"leave {BENCH_DB} behind")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="ANALYZE the touchpoint table as autovacuum's default threshold would "
        "(for servers that run with autovacuum off)",
    )
    parser.add_argument(
        "--setup-sql",
        action="append",
        default=[],
        metavar="SQL",
        help="run in the bench database after migrating, e.g. to try an index change",
    )
    parser.add_argument(
        "--browser-events",
        type=int,
        default=20_000,
        help="single-event /v1/t requests after the batch run, browser-shaped (0: none)",
    )
    parser.add_argument(
        "--browser-clients", type=int, default=32, help="concurrent browser-like clients"
    )
    parser.add_argument(
        "--browser-load",
        choices=["python", "wrk"],
        default="wrk" if shutil.which("wrk") else "python",
        help="who sends the single events: client processes with requests, or wrk "
        "(Debian's package; the default when installed)",
    )
    parser.add_argument(
        "--browser-seconds", type=int, default=20, help="how long wrk sends (--browser-load wrk)"
    )
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the same single-event load on an app that only answers",
    )
    args = parser.parse_args()
    if args.events < BATCH_SIZE or args.clients < 1 or args.workers < 1:
        parser.error("--events must be at least 100; --clients and --workers at least 1")

    database_url = f"{args.postgres}/{BENCH_DB}"
    env = os.environ | {
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "cdp.settings",
    }
    broker = redis.Redis.from_url(REDIS_URL)

    workdir = Path(tempfile.mkdtemp(prefix="omnitrail-bench-"))
    print(f"generating {args.events:,} events ...", flush=True)
    try:
        events, origin = population_events(args.events, args.seed, workdir)
    except ImportError:
        events, origin = synthesized_events(args.events, args.seed)
    message_ids = {orjson.loads(event).get("messageId") for event in events}
    if len(message_ids) != len(events):
        raise SystemExit("the generated events repeat a messageId; rows would not equal events")
    BODIES[:] = batch_prefixes(events)
    body_kb = statistics.mean(len(body) for body in BODIES) / 1024

    print(f"recreating database {BENCH_DB} and migrating ...", flush=True)
    recreate_database(args.postgres)
    manage(env, "migrate", "--noinput")
    if args.setup_sql:
        with psycopg.connect(database_url, autocommit=True) as connection:
            for statement in args.setup_sql:
                connection.execute(statement)
    write_key = manage(env, "create_source", "bench-web", "--kind", "web").strip().splitlines()[-1]
    broker.flushdb()

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/batch"
    log_path = workdir / "gunicorn.log"
    command = gunicorn_command(args, port)
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    clients: list[multiprocessing.Process] = []
    try:
        try:
            wait_until_serving(server, url, args.workers)
        except SystemExit:
            print(log_path.read_text()[-3000:])
            raise
        context = multiprocessing.get_context("fork")
        barrier = context.Barrier(args.clients + 1)
        results = context.Queue()
        clients = [
            context.Process(
                target=run_client,
                args=(
                    url,
                    write_key,
                    list(range(number, len(BODIES), args.clients)),
                    args.gzip,
                    barrier,
                    results,
                ),
            )
            for number in range(args.clients)
        ]
        for client in clients:
            client.start()
        print(f"sending {len(BODIES):,} batches from {args.clients} clients ...", flush=True)
        analyzer = Analyzer(database_url) if args.analyze else None
        if analyzer:
            analyzer.start()
        cpu_before = cpu_by_role(server.pid)
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            raise SystemExit("a client failed during warm-up; see its traceback above") from None
        started = time.perf_counter()
        outcomes = collect(results, clients)
        if analyzer:
            analyzer.stop.set()
            analyzer.join()
            if analyzer.error:
                raise SystemExit(f"--analyze failed: {analyzer.error}")
        elapsed = max(outcome.finished_at for outcome in outcomes) - started
        cpu_after = cpu_by_role(server.pid)
        identity_tasks = broker.llen("identity")
        browser = None
        if args.browser_events > 0:
            print(
                f"sending {args.browser_events:,} single events to /v1/t from "
                f"{args.browser_clients} browser-like clients ...",
                flush=True,
            )
            browser = measured(
                lambda: single_event_load(args, url.replace("/v1/batch", "/v1/t"), write_key),
                server.pid,
            )
    finally:
        for client in clients:
            if client.is_alive():
                client.terminate()
        stop(server)
        broker.flushdb()
    floor = django_floor = None
    if browser is not None and args.floor:
        print("the same single-event load on gunicorn serving apps that only answer ...")
        floor = floor_phase(args, env, write_key, "benchmarks.floor_app")
        django_floor = floor_phase(args, env, write_key, "benchmarks.floor_django")

    with psycopg.connect(database_url) as connection:
        stored = connection.execute(
            "SELECT count(*) FROM cdp_touchpoint WHERE message_id NOT LIKE 'browser-%%' "
            "AND message_id NOT LIKE 'wrk-%%'"
        ).fetchone()[0]
        single_stored = connection.execute(
            "SELECT count(*) FROM cdp_touchpoint WHERE message_id LIKE 'browser-%%' "
            "OR message_id LIKE 'wrk-%%'"
        ).fetchone()[0]
        kept_rejections = connection.execute("SELECT count(*) FROM cdp_rejectedevent").fetchone()[0]
    print("loading the same rows with COPY ...", flush=True)
    copied, copy_one, copy_per_batch = copy_ceiling(database_url)
    if not args.keep_db:
        drop_database(args.postgres)
    shutil.rmtree(workdir, ignore_errors=True)

    latencies = [latency for outcome in outcomes for latency in outcome.latencies]
    accepted = sum(outcome.accepted for outcome in outcomes)
    statuses: dict[int, int] = {}
    for outcome in outcomes:
        for status, count in outcome.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    cpu = {role: cpu_after[role] - cpu_before[role] for role in cpu_after}
    cpu["clients"] = sum(outcome.cpu_seconds for outcome in outcomes)
    # Whatever else ran meanwhile (another job on a shared machine skews the figures).
    machine_busy = cpu.pop("machine")
    cpu["other"] = max(0.0, machine_busy - sum(cpu.values()))
    with psycopg.connect(f"{args.postgres}/postgres") as connection:
        server_version = connection.execute("SHOW server_version").fetchone()[0].split()[0]
        autovacuum = connection.execute("SHOW autovacuum").fetchone()[0]
    worker_kind = "gthread" if args.threads > 1 else "sync"
    threads = f" --threads {args.threads}" if args.threads > 1 else ""

    print()
    print("Omnitrail ingestion benchmark")
    print(
        f"  machine   {machine()}, PostgreSQL {server_version} on 127.0.0.1 "
        f"(autovacuum {autovacuum})"
    )
    if analyzer:
        print(f"  analyze   {analyzer.runs} ANALYZE of cdp_touchpoint during the run (--analyze)")
    for statement in args.setup_sql:
        print(f"  setup     {statement}")
    print(f"  events    {args.events:,} from {origin}")
    print(
        f"  requests  {len(BODIES):,} × /v1/batch of {BATCH_SIZE} events "
        f"({body_kb:.0f} KB each{', gzip' if args.gzip else ''}), {args.clients} client processes"
    )
    print(f"  server    gunicorn cdp.wsgi -w {args.workers}{threads} ({worker_kind} workers)")
    print()
    print(f"  {'':<38}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'seconds':>9}")
    print(
        f"  {'HTTP /v1/batch, accepted':<38}{accepted / elapsed:>10,.0f}"
        f"{percentile(latencies, 0.50) * 1000:>9.1f}{percentile(latencies, 0.99) * 1000:>9.1f}"
        f"{elapsed:>9.1f}"
    )
    if browser is not None:
        print(
            f"  {'HTTP /v1/t, one event, CORS (browser)':<38}{browser.rate:>10,.0f}"
            f"{browser.p50 * 1000:>9.1f}{browser.p99 * 1000:>9.1f}{browser.seconds:>9.1f}"
        )
    for label, result in (
        ("  floor: Django view only answers", django_floor),
        ("  floor: WSGI app only answers", floor),
    ):
        if result is not None:
            print(
                f"  {label:<38}{result.rate:>10,.0f}"
                f"{result.p50 * 1000:>9.1f}{result.p99 * 1000:>9.1f}{result.seconds:>9.1f}"
            )
    print(
        f"  {'COPY, one transaction (ceiling)':<38}{copied / copy_one:>10,.0f}"
        f"{'':>18}{copy_one:>9.1f}"
    )
    print(
        f"  {'COPY, one transaction per 100 rows':<38}{copied / copy_per_batch:>10,.0f}"
        f"{'':>18}{copy_per_batch:>9.1f}"
    )
    print()
    verdict = "ok" if stored == args.events else "MISMATCH"
    print(
        f"  rows in cdp_touchpoint after the HTTP run   {stored:,} of {args.events:,} ({verdict})"
    )
    print(f"  rows after the COPY                         {copied:,}")
    print(f"  identity tasks waiting in Redis (no worker) {identity_tasks:,}")
    duplicates = sum(outcome.duplicates for outcome in outcomes)
    rejected = sum(outcome.rejected for outcome in outcomes)
    lost = sum(outcome.lost_batches for outcome in outcomes)
    print(
        f"  responses {dict(sorted(statuses.items()))}; duplicates {duplicates}; "
        f"rejected {rejected} (kept {kept_rejections}); batches given up {lost}"
    )
    if browser is not None:
        # wrk stops with requests in flight: stored, but their answers not counted
        in_flight_only = 0 <= single_stored - browser.answered <= args.browser_clients
        load = (
            f"wrk, {args.browser_clients} connections, {args.browser_seconds} s"
            if args.browser_load == "wrk"
            else f"{args.browser_events:,} requests from {args.browser_clients} client processes"
        )
        print(
            f"  single events ({load}): answers {dict(sorted(browser.statuses.items()))} "
            "(204000 = preflights); stored "
            f"{single_stored:,} of {browser.answered:,} answered 200"
            f" ({'ok' if in_flight_only else 'MISMATCH'})"
        )
        for name, result in (
            ("/v1/t", browser),
            ("Django floor", django_floor),
            ("WSGI floor", floor),
        ):
            if result is None:
                continue
            busy = result.cpu["busy"]
            shares = ", ".join(
                f"{role} {seconds:.1f}" for role, seconds in result.cpu.items() if role != "busy"
            )
            per = result.answered or 1
            print(
                f"  CPU seconds, {name}: {shares} (machine {busy / (2 * result.seconds):.0%} busy);"
                f" per request: gunicorn {result.cpu['gunicorn'] / per * 1000:.2f} ms, postgres "
                f"{result.cpu['postgres'] / per * 1000:.2f} ms, redis "
                f"{result.cpu['redis'] / per * 1000:.2f} ms, clients "
                f"{result.cpu['clients'] / per * 1000:.2f} ms"
            )
    available = (os.cpu_count() or 1) * elapsed
    shares = ", ".join(f"{role} {seconds:.1f}" for role, seconds in cpu.items())
    print(
        f"  CPU seconds during the HTTP run: {shares} "
        f"(of {available:.1f} available; {machine_busy / available:.0%} busy)"
    )
    print(
        f"  server CPU per 100-event request: gunicorn {cpu['gunicorn'] / len(BODIES) * 1000:.1f}"
        f" ms, postgres {cpu['postgres'] / len(BODIES) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
