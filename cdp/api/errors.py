"""The one place where errors become HTTP responses: `{"code": ..., "message": ...}`."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cdp.errors import OmnitrailError, RateLimited


def error_body(error: OmnitrailError) -> dict[str, str]:
    """`{"code", "message", "field"}`: the message names the field first, as DRF's
    validation errors do below."""
    body = {"code": error.code, "message": str(error)}
    if error.field:
        body["field"] = error.field
    return body


def error_response(error: OmnitrailError, **extra: Any) -> JsonResponse:
    body = error_body(error) | extra
    response = JsonResponse(body, status=error.status)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


def _first_message(detail: Any, path: str = "") -> tuple[str, str]:
    """The first (field, message) of a DRF error detail, however nested."""
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()))
        field = key if key != "non_field_errors" else ""
        return _first_message(value, f"{path}.{field}" if path and field else path or field)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], path)
    return path, str(detail)


def _codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_codes(value) for value in codes.values()))
    if isinstance(codes, list):
        return set().union(*(_codes(value) for value in codes))
    return {codes}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF errors and our domain errors share one body shape across the native API."""
    if isinstance(exc, OmnitrailError):
        body = error_body(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return Response(body, status=exc.status, headers=headers)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        field, message = _first_message(exc.detail)
        # Only a name (or key) another row already holds: the body is fine, the state
        # is not, so 409 as for a refused merge.
        taken = _codes(exc.get_codes()) == {"unique"}
        if taken:
            response.status_code = 409
        response.data = {
            "code": "already_exists" if taken else "invalid_field",
            "field": field,
            "message": f"{field}: {message}" if field else message,
            "errors": exc.detail,
        }
    else:
        detail = getattr(exc, "detail", "")
        code = detail.code if hasattr(detail, "code") else "error"
        response.data = {"code": code, "message": str(detail)}
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: a path under /api/ that names nothing answers in the API's error shape
    (`/api/v1/profiles/abc/segments/`), every other path with Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "not_found", "message": f"nothing at {request.path}"}, status=404
        )
    return defaults.page_not_found(request, exception)
