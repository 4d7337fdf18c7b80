"""`GET /healthz`: can this process serve? For load balancers and orchestrators."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:  # any failure is an answer here, not a crash
        return f"unreachable: {error.__class__.__name__}"


def _broker() -> str:
    if not settings.REDIS_URL:
        return "eager (embedded)"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        return "ok"
    except redis.RedisError as error:
        return f"unreachable: {error.__class__.__name__}"


@require_GET
def healthz(request):
    checks = {"database": _database(), "broker": _broker()}
    healthy = all(not value.startswith("unreachable") for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
