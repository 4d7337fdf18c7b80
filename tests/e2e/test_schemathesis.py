"""The native API answers as its OpenAPI schema (`/api/schema/`) says: Schemathesis
generates requests for every operation from the schema, valid and invalid, sends them
through the Django app in-process with a staff token, and checks each answer.

Checks: no 5xx; every status code is one the operation documents (errors included:
400, 401, 403, 404, 409 with the `{"code", "message", "field"}` body); the body and the
content type are the documented ones; a request the schema calls invalid (a wrong
type, an unknown query parameter) is refused. Bounded for CI: a few derandomized
examples per operation (about a minute on two cores), the same requests every run.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi import checks

from cdp.models import Profile
from consent.services import record_consent
from tests.factories import GoalFactory, MatchReviewFactory, SegmentFactory

CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]

# Examples per operation and mode: 54 operations, most answered in milliseconds.
EXAMPLES = 5


@pytest.fixture
def seeded(db, deliver):
    """Rows for the reads to find: a profile with touchpoints and consent, a goal, a
    segment, a review waiting."""
    deliver(
        {"type": "identify", "userId": "u-1", "traits": {"email": "ann@example.com"}},
        {"type": "track", "userId": "u-1", "event": "Order Completed"},
    )
    record_consent(Profile.objects.get(), "analytics", "granted", channel="api")
    GoalFactory(key="purchase")
    SegmentFactory()
    MatchReviewFactory()


@pytest.fixture
def wsgi_app():
    """The app as a WSGI server runs it, but keeping the test's database connection
    between requests (as Django's test client does): PostgreSQL's would be closed at
    the end of each request, and the test's transaction with it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db):
    user = get_user_model().objects.create_superuser("fuzzer", "fuzzer@example.com", "x")
    return AuthToken.objects.create(user)[1]


def failures_of(operation, mode, headers) -> list[str]:
    """The checks' failures over a bounded, derandomized run of one operation in one
    generation mode (hypothesis stops at the first failure and shrinks it)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as failure:  # a group: one error per check
        return [f"{operation.label} ({mode}): {failure}"]
    return []


def test_native_api_answers_as_its_schema_says(seeded, staff_token, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    headers = {"Authorization": f"Bearer {staff_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 50  # every app's API is in the schema
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in failures_of(operation, mode, headers)
    ]
    assert not failures, f"{len(failures)} operations answer otherwise:\n" + "\n\n".join(failures)
