"""The one place where errors become HTTP responses: `{"code": ..., "message": ...}`."""

from typing import Any

from django.http import JsonResponse
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
        response.data = {
            "code": "invalid_field",
            "field": field,
            "message": f"{field}: {message}" if field else message,
            "errors": exc.detail,
        }
    else:
        detail = getattr(exc, "detail", "")
        code = detail.code if hasattr(detail, "code") else "error"
        response.data = {"code": code, "message": str(detail)}
    return response
