"""The Segment HTTP tracking API, as segment-analytics-python and rudder-sdk-python speak it.

Plain Django views rather than DRF: the contract is Segment's (Basic-auth write key,
gzip bodies, their status codes and error body), and this is the hot path.
"""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from pydantic import TypeAdapter, ValidationError

from cdp.api.errors import error_response
from cdp.errors import OmnitrailError, PayloadTooLarge
from cdp.models import Source
from cdp.services.ingest import ingest_batch, record_rejected_body
from cdp.services.sources import authenticate_source, take_rate_budget

logger = logging.getLogger(__name__)
_datetime = TypeAdapter(datetime)


def _write_key_from_header(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OmnitrailError(
            "Authorization: not valid Basic credentials", code="invalid_authorization"
        ) from None
    return decoded.partition(":")[0]


def _decompressed(request: HttpRequest, limit: int) -> bytes:
    """The request body, un-gzipped, refused past `limit` bytes (gzip bombs included)."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"body: exceeds {limit // 1024} KB", code="batch_too_large") from None
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise OmnitrailError(
                "Content-Encoding: the body is not valid gzip", code="invalid_gzip"
            ) from None
        if not inflater.eof and len(body) <= limit:
            raise OmnitrailError(
                "Content-Encoding: the gzip body is truncated", code="invalid_gzip"
            )
    if len(body) > limit:
        kind = "batch" if limit == settings.OMNITRAIL_MAX_BATCH_BYTES else "event"
        raise PayloadTooLarge(
            f"body: the {kind} exceeds {limit // 1024} KB",
            code=f"{kind}_too_large",
        )
    return body


def _raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        return b""


def _parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise OmnitrailError(f"body: invalid JSON ({error})", code="invalid_json") from None


def _sent_at(payload: dict[str, Any]) -> datetime | None:
    value = payload.get("sentAt")
    if value in (None, ""):
        return None
    try:
        parsed = _datetime.validate_python(value)
    except ValidationError:
        raise OmnitrailError(
            f"not a valid timestamp: {value!r}", code="invalid_field", field="sentAt"
        ) from None
    return parsed if parsed.tzinfo else timezone.make_aware(parsed, UTC)


def _events_of(payload: Any, endpoint: str) -> tuple[list[Any], dict[str, Any]]:
    """The events of a request and the batch-level context to merge into each."""
    if not isinstance(payload, dict):
        raise OmnitrailError("must be a JSON object", code="invalid_json", field="body")
    if endpoint == "batch":
        batch = payload.get("batch")
        if not isinstance(batch, list):
            raise OmnitrailError("must be a list of events", code="invalid_field", field="batch")
        context = payload.get("context")
        return batch, context if isinstance(context, dict) else {}
    event = dict(payload)
    event.pop("writeKey", None)
    event["type"] = endpoint
    return [event], {}


@csrf_exempt
@require_POST
def segment_endpoint(request: HttpRequest, endpoint: str) -> JsonResponse:
    """POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/alias, /v1/group."""
    received_at = timezone.now()
    source: Source | None = None
    body = b""
    try:
        header_key = _write_key_from_header(request)
        if header_key:
            source = authenticate_source(header_key)
        limit = (
            settings.OMNITRAIL_MAX_BATCH_BYTES
            if endpoint == "batch"
            else settings.OMNITRAIL_MAX_EVENT_BYTES
        )
        body = _decompressed(request, limit)
        payload = _parse_json(body)
        if source is None:
            source = authenticate_source(
                payload.get("writeKey") if isinstance(payload, dict) else None
            )
        events, batch_context = _events_of(payload, endpoint)
        take_rate_budget(source, len(events))
        result = ingest_batch(
            source,
            events,
            received_at=received_at,
            sent_at=_sent_at(payload),
            batch_context=batch_context,
            field_prefix="batch" if endpoint == "batch" else "",
        )
    except OmnitrailError as error:
        if source is not None and error.status in (400, 413):
            record_rejected_body(
                source, body or _raw_body(request), code=error.code, reason=str(error)
            )
        return error_response(error)
    except (OperationalError, InterfaceError) as error:
        # The database is briefly away: 503 makes the client keep the batch and retry.
        logger.warning("ingest unavailable: %s", error)
        response = JsonResponse(
            {"code": "unavailable", "message": "storage is unavailable; retry shortly"},
            status=503,
        )
        response["Retry-After"] = "5"
        return response

    rejected = [rejection.as_dict() for rejection in result.rejected]
    if rejected and not result.accepted and not result.duplicates:
        first = result.rejected[0]
        status = 413 if first.code == "event_too_large" and endpoint != "batch" else 400
        return JsonResponse(
            {
                "code": first.code,
                "message": first.message,
                "field": first.field,
                "rejected": rejected,
            },
            status=status,
        )
    answer: dict[str, Any] = {
        "success": True,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": rejected,
    }
    if result.warnings:
        answer["warnings"] = [warning.as_dict() for warning in result.warnings]
    if result.suppressed:
        answer["suppressed"] = result.suppressed  # events of erased people, not stored
    return JsonResponse(answer)
