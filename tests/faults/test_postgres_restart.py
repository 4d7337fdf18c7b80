"""PostgreSQL stopped and started again while gunicorn takes batches: a batch answered
200 is stored, every other is answered 503 with Retry-After, and the client's retries
after recovery store the rest once: lost = duplicated = 0."""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from tests.faults.conftest import ROOT, Tally, basic_auth, free_port, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BATCHES_PER_PHASE, EVENTS_PER_BATCH = 10, 20


def pg_binary(name: str) -> str:
    for candidate in (PG_BIN / name, Path("/usr/local/bin") / name, Path("/usr/bin") / name):
        if candidate.is_file():
            return str(candidate)
    pytest.skip(f"{name} is not installed (PostgreSQL 15 binaries in {PG_BIN})")


class Cluster:
    """A throwaway PostgreSQL cluster on its own port (run as the postgres user when the
    tests run as root: initdb refuses root)."""

    def __init__(self, folder: Path) -> None:
        self.initdb, self.pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            subprocess.run(["chown", "-R", "postgres", str(self.folder)], check=True)
        self.run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "pg.log")
        self.run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self.run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    # Not under pytest's tmp folder: that one is private to root, and the server is not.
    folder = Path(tempfile.mkdtemp(prefix="omnitrail-pg-"))
    os.chmod(folder, 0o755)
    server = Cluster(folder / "cluster")
    try:
        server.create()
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restarted_mid_ingest_loses_and_duplicates_nothing(cluster, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG")},
        "DATABASE_URL": cluster.url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "DB_CONN_MAX_AGE": "60",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=240)
    created = subprocess.run(
        [*manage, "create_source", "web", "--kind", "web"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    write_key = created.stdout.strip().splitlines()[-1].split()[-1]
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "cdp.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    tally, pending = Tally(), []

    def post(batch: list[dict]) -> tuple[int, str | None]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(
                "POST",
                "/v1/batch",
                orjson.dumps({"batch": batch}),
                {"Content-Type": "application/json", "Authorization": basic_auth(write_key)},
            )
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("Retry-After")
        finally:
            connection.close()

    def send(number: int) -> None:
        batch = [
            {
                "type": "track",
                "event": "Product Viewed",
                "messageId": f"b{number}-e{i}",
                "anonymousId": f"v{number}",
            }
            for i in range(EVENTS_PER_BATCH)
        ]
        status, retry_after = post(batch)
        tally.note(status, [event["messageId"] for event in batch], retry_after)
        if status != 200:
            pending.append(batch)

    try:
        assert wait_until(lambda: _answers(port), seconds=30), (
            tmp_path / "gunicorn.log"
        ).read_text()
        number = 0
        for phase in ("up", "down", "back"):
            if phase == "down":
                cluster.stop()
            if phase == "back":
                cluster.start()
            for _ in range(BATCHES_PER_PHASE):
                send(number)
                number += 1
        # the client keeps what was refused and sends it again, as the SDKs do
        retried = [post(batch)[0] for batch in pending]
    finally:
        web.terminate()
        web.wait(timeout=20)
        log.close()

    import psycopg

    with psycopg.connect(cluster.url.replace("postgres://", "postgresql://")) as db:
        stored = [row[0] for row in db.execute("SELECT message_id FROM cdp_touchpoint")]
    figures = tally.against(stored)
    print("postgres stopped mid-ingest:", figures, tally.answered_other, "retried:", retried)
    sent = 3 * BATCHES_PER_PHASE * EVENTS_PER_BATCH
    assert set(tally.answered_other) == {503} and tally.retry_after_missing == 0
    assert tally.answered_other[503] >= BATCHES_PER_PHASE * EVENTS_PER_BATCH  # all while down
    assert retried == [200] * len(pending)
    assert figures == {
        "sent": sent,
        "answered_200": sent - tally.answered_other[503],
        "stored": sent,  # after the retries
        "lost": 0,
        "duplicated": 0,
    }


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status in (200, 503)
    except OSError:
        return False
