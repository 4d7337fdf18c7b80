"""The official JavaScript clients, installed from npm (tests/e2e/js/package.json, pinned;
`npm ci` in .ci/run), and a web server for the shop pages they run on: another port,
so another origin than Omnitrail's."""

from __future__ import annotations

import functools
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

JS = Path(__file__).parent / "js"
NODE_MODULES = JS / "node_modules"


def require_npm_clients() -> None:
    if not (NODE_MODULES / "@segment" / "analytics-next").exists():
        pytest.fail(f"the npm clients are not installed: run `npm ci` in {JS}")


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not installed (Debian: apt-get install nodejs npm)")
    return found


def run_node(script: str, *, env: dict[str, str], timeout: float = 60) -> str:
    """Run a Node script with the pinned packages importable; its stdout."""
    require_npm_clients()
    done = subprocess.run(
        [node(), "-e", script],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"node failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


class _Handler(SimpleHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        path = self.path.split("?", 1)[0]
        if path in self.pages:
            body = self.pages[path].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def shop_site(pages: dict[str, str]) -> Iterator[str]:
    """Serve `pages` (path -> HTML) and the npm packages under /js/ on a free port of
    127.0.0.1; yields the site's base URL."""
    require_npm_clients()
    handler = type("ShopHandler", (_Handler,), {"pages": pages})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(NODE_MODULES))
    )
    # /js/x is node_modules/x: SimpleHTTPRequestHandler serves `directory`.
    original = handler.translate_path

    def translate(self: SimpleHTTPRequestHandler, path: str) -> str:
        return original(self, path.removeprefix("/js"))

    handler.translate_path = translate  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
