"""`GET /healthz` tells a load balancer whether this process can serve."""

import pytest
from django.conf import settings


@pytest.mark.django_db
def test_health_reports_database_and_broker(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["broker"] == ("ok" if settings.REDIS_URL else "eager (embedded)")


@pytest.mark.django_db
def test_an_unreachable_broker_is_503_naming_it(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["broker"].startswith("unreachable")
    assert response.json()["database"] == "ok"
