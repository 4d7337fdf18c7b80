"""CORS for the tracking endpoints, by django-cors-headers (settings: CORS_*)."""

from __future__ import annotations

from corsheaders.middleware import CorsMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class TrackingCorsMiddleware(CorsMiddleware):
    """django-cors-headers, with the preflight answered 204 No Content as Segment's and
    RudderStack's servers answer it (the library answers 200)."""

    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is not None:
            response.status_code = 204
        return response
