"""Fixtures shared by every test folder."""

import base64
import gzip as gzip_module
import itertools
import os

import orjson
import pytest
from django.test import Client

from cdp.services.ingest import ingest_batch
from cdp.services.sources import create_source

# Modules of tests that touch no database: the pure engines and generators. pytest-django
# refuses them database access, so they give the same answer on either database; CI runs
# the suite twice side by side (PostgreSQL, and the embedded default) and runs these in
# the embedded pass only (OMNITRAIL_TESTS_DATABASE_ONLY=1 in the PostgreSQL one, the
# longer of the two without them). `make test` runs them all.
DATABASE_FREE_MODULES = frozenset(
    {
        "tests/attribution/test_budget.py",
        "tests/attribution/test_channel_performance.py",
        "tests/attribution/test_channels.py",
        "tests/attribution/test_comparison.py",
        "tests/attribution/test_crosschannel.py",
        "tests/attribution/test_facts_figures.py",
        "tests/attribution/test_heuristics.py",
        "tests/attribution/test_incrementality.py",
        "tests/attribution/test_markov.py",
        "tests/attribution/test_report_figures.py",
        "tests/attribution/test_shapley.py",
        "tests/cdp/site/test_population.py",
        "tests/cdp/tracking_plans/test_engine.py",
        "tests/identity/test_golden.py",
        "tests/identity/test_matching_engine.py",
        "tests/identity/test_names.py",
        "tests/identity/test_normalize.py",
        "tests/identity/test_training_without_keys.py",
    }
)
_DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_setup", "live_server", "django_db_reset_sequences"}
)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("OMNITRAIL_TESTS_DATABASE_ONLY") != "1":
        return
    ran_before = pytest.mark.skip(reason="touches no database: ran in CI's embedded pass")
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        uses_database = _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        if module in DATABASE_FREE_MODULES and not uses_database:
            if item.get_closest_marker("django_db") is None:
                item.add_marker(ran_before)


@pytest.fixture
def web_source(db):
    """A web source and its write key."""
    return create_source("web", kind="web")


@pytest.fixture
def user_in(db):
    """A signed-in test client (`.user` is its user) for a user in the given role groups
    (cdp.roles): `user_in("Analysts")`, `user_in(name="nobody")`."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(*groups, name=None):
        user = get_user_model().objects.create_user(name or "-".join(groups) or "nobody")
        user.groups.add(*Group.objects.filter(name__in=groups))
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def segment_post(client: Client):
    """POST a body to a Segment endpoint the way the official clients do."""

    def post(endpoint, body, *, write_key, gzip=False, raw=None, encoding=None):
        data = raw if raw is not None else orjson.dumps(body)
        headers = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
        if write_key is not None:
            token = base64.b64encode(f"{write_key}:".encode()).decode()
            headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
        if gzip:
            data = gzip_module.compress(data)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        return client.post(f"/v1/{endpoint}", data, content_type="application/json", **headers)

    return post


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Tasks run in-process unless a test drives a real worker (marked `real_worker`)."""
    from cdp.celery import app

    eager = "real_worker" not in request.keywords
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fresh_process_memos():
    """Each test starts with the per-process memos empty (the write keys' sources, the
    suppression list's state): a rolled-back test's rows must not be remembered."""
    from cdp.services.sources import forget_sources
    from consent import suppression

    forget_sources()
    suppression._known = None
    yield


_ids = itertools.count()


@pytest.fixture
def deliver(db, django_capture_on_commit_callbacks):
    """Ingest events through the real ingest service; identity runs on commit as it would."""
    sources = {}

    def send_events(*events, source="web", kind="web"):
        if source not in sources:
            sources[source] = create_source(source, kind=kind)[0]
        stamped = [{"messageId": f"m-{next(_ids)}", **event} for event in events]
        with django_capture_on_commit_callbacks(execute=True):
            result = ingest_batch(sources[source], stamped, channel="import")
        assert not result.rejected, result.rejected
        return stamped

    return send_events


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    """File destinations write inside OMNITRAIL_EXPORT_DIR: the test's own folder."""
    settings.OMNITRAIL_EXPORT_DIR = str(tmp_path)
    return tmp_path
