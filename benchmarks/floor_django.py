"""The second floor of the single-event benchmark: Django with Omnitrail's settings and
middleware, serving at /v1/t a view that reads the body and answers as /v1/t does, and
does nothing else (no parsing, no database, no Redis). What the framework alone costs
per request on this machine, beside the app that only answers (floor_app.py)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

django.setup()


@csrf_exempt
def answer(request):
    if request.method != "POST":
        return JsonResponse({}, status=405)
    request.body  # noqa: B018 (read, as the real view does)
    return JsonResponse({"success": True, "accepted": 1, "duplicates": 0, "rejected": []})


urlpatterns = [path("v1/t", answer)]
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
