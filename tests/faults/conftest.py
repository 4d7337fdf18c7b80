"""The fault suite: real services (redis-server, PostgreSQL clusters, Celery workers) the
tests start on their own free ports, stop and restart while traffic flows, and the counts
each test asserts (sent, answered 200, stored, lost, duplicated)."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def binary(name: str, *also: str) -> str:
    """The path of a server binary, or the test is skipped naming what is missing."""
    for candidate in (name, *also):
        found = shutil.which(candidate) or (Path(candidate).is_file() and candidate)
        if found:
            return str(found)
    pytest.skip(f"{name} is not installed (the fault suite starts its own server)")


class RedisServer:
    """A redis-server of our own, on a free port, without persistence (as a crash loses
    what was queued in memory)."""

    def __init__(self, tmp: Path) -> None:
        self.executable = binary("redis-server")
        self.port = free_port()
        self.tmp = tmp
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self.answers, seconds=10):
            raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as a crash: nothing saved, no goodbye to clients
            self.process.wait(timeout=10)
            self.process = None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@dataclass
class Tally:
    """What a client sent and what it was told, to hold against what was stored."""

    sent: int = 0
    answered_200: int = 0
    answered_other: dict[int, int] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)  # message ids in batches answered 200
    unacknowledged: list[str] = field(default_factory=list)
    retry_after_missing: int = 0

    def note(self, status: int, message_ids: list[str], retry_after: str | None = None) -> None:
        self.sent += len(message_ids)
        if status == 200:
            self.answered_200 += len(message_ids)
            self.acknowledged += message_ids
        else:
            self.answered_other[status] = self.answered_other.get(status, 0) + len(message_ids)
            self.unacknowledged += message_ids
            if status == 503 and not retry_after:
                self.retry_after_missing += 1

    def against(self, stored_ids: list[str]) -> dict[str, int]:
        """sent / answered 200 / stored / lost (answered 200, not stored) / duplicated."""
        stored = set(stored_ids)
        return {
            "sent": self.sent,
            "answered_200": self.answered_200,
            "stored": len(stored),
            "lost": len(set(self.acknowledged) - stored),
            "duplicated": len(stored_ids) - len(stored),
        }


def basic_auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


@contextmanager
def celery_broker(url: str):
    """Point the Celery app of this process at `url`, publishing for real (not eager)."""
    from cdp.celery import app

    previous = (app.conf.broker_url, app.conf.task_always_eager)

    def reset_pools():
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url, app.conf.task_always_eager = url, False
    reset_pools()
    try:
        yield app
    finally:
        reset_pools()
        app.conf.broker_url, app.conf.task_always_eager = previous


@pytest.fixture
def app_on_own_redis(redis_server, settings):
    """The cache and the broker on the test's own redis-server, with the production
    timeouts (cdp.settings: OMNITRAIL_CACHE_TIMEOUT_SECONDS, the broker's retry policy)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
    with celery_broker(redis_server.url):
        yield redis_server
