"""`manage.py check --deploy` is clean once HTTPS is declared in the environment."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def deploy_check(**env: str) -> str:
    environment = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set for the browser tests' process (tests/e2e/browser.py),
        # never in a deployment
        if k not in ("DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    environment |= {
        "DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout + result.stderr


def test_check_deploy_is_clean_with_https_set_from_the_environment():
    out = deploy_check(OMNITRAIL_HTTPS="true")
    # No warning of any kind: Django's security checks, and drf-spectacular's (W001: a
    # field or response the OpenAPI schema could not describe).
    assert "System check identified no issues" in out, out


def test_without_https_check_deploy_names_what_is_missing():
    out = deploy_check()
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in out, out
