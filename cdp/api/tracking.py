"""The Segment HTTP tracking API, as the official SDKs speak it: segment-analytics-python,
rudder-sdk-python, @segment/analytics-node, @rudderstack/rudder-sdk-node, analytics.js
(@segment/analytics-next) and RudderStack's JavaScript SDK in browsers, the mobile SDKs.

Plain Django views rather than DRF: the contract is Segment's (Basic-auth write key,
gzip bodies, their status codes and error body), and this is the hot path. CORS is
answered by django-cors-headers (cdp.api.cors) before the view runs.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import re
import zlib
from functools import lru_cache
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cdp.api.errors import error_response
from cdp.engine.messages import strip_nul
from cdp.errors import AuthenticationFailed, OmnitrailError, PayloadTooLarge, RateLimited
from cdp.models import Source
from cdp.services.ingest import ingest_batch, record_rejected_body
from cdp.services.sources import authenticate_source, take_rate_budget

logger = logging.getLogger(__name__)

# The short paths analytics.js posts to (/v1/t ...), and the legacy mobile SDKs' import.
ENDPOINTS = {
    "b": "batch",
    "t": "track",
    "i": "identify",
    "p": "page",
    "s": "screen",
    "g": "group",
    "a": "alias",
    "import": "batch",
}


class OriginNotAllowed(OmnitrailError):
    status = 403
    code = "origin_not_allowed"


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


def _inflate(body: bytes, encoding: str, limit: int) -> bytes:
    """`body` inflated (gzip, deflate), never past `limit` + 1 bytes (a bomb stops there)."""
    wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits=wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error:
        if encoding != "deflate":
            raise OmnitrailError(
                f"Content-Encoding: the body is not valid {encoding}", code="invalid_gzip"
            ) from None
        # Some clients send deflate without its zlib header (raw deflate).
        return _inflate_raw(body, limit)
    if not inflater.eof and len(inflated) <= limit:
        raise OmnitrailError(
            f"Content-Encoding: the {encoding} body is truncated", code="invalid_gzip"
        )
    return inflated


def _inflate_raw(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise OmnitrailError(
            "Content-Encoding: the body is not valid deflate", code="invalid_gzip"
        ) from None
    if not inflater.eof and len(inflated) <= limit:
        raise OmnitrailError("Content-Encoding: the deflate body is truncated", code="invalid_gzip")
    return inflated


def _decompressed(request: HttpRequest, limit: int) -> bytes:
    """The request body, inflated, refused past `limit` bytes (gzip bombs included)."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"body: exceeds {limit // 1024} KB", code="batch_too_large") from None
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        body = _inflate(body, encoding, min(limit, settings.OMNITRAIL_MAX_INFLATED_BYTES))
    elif encoding not in ("", "identity"):
        raise OmnitrailError(
            f"Content-Encoding: {encoding[:20]!r} is not gzip or deflate",
            code="unsupported_encoding",
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


# An integer literal too long for a 64-bit float to hold exactly (a 30-digit userId).
_LONG_INTEGER = re.compile(rb"[\[:,]\s*-?\d{16,}\s*[\],}]")
# Every digit as a 9: a run of sixteen 9s is then a run of sixteen digits, found by a
# substring search (a sixth of the pattern's time on a 90 KB batch); only a body that
# has one is searched with the pattern.
_DIGITS_AS_NINES = bytes.maketrans(b"012345678", b"999999999")
_SIXTEEN_DIGITS = b"9" * 16


def _has_long_integer(body: bytes) -> bool:
    return _SIXTEEN_DIGITS in body.translate(_DIGITS_AS_NINES) and bool(_LONG_INTEGER.search(body))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_json(body: bytes) -> Any:
    try:
        if _has_long_integer(body):
            # Python's parser keeps integers of any length exact; orjson would round them.
            return json.loads(body, parse_constant=_reject_constant)
        return orjson.loads(body)
    except (orjson.JSONDecodeError, ValueError, RecursionError) as error:
        message = str(error)[:200]
        raise OmnitrailError(f"body: invalid JSON ({message})", code="invalid_json") from None


def _events_of(payload: Any, endpoint: str) -> tuple[list[Any], dict[str, Any]]:
    """The events of a request and the batch-level context to merge into each."""
    if not isinstance(payload, dict):
        raise OmnitrailError("must be a JSON object", code="invalid_json", field="body")
    if endpoint == "batch":
        batch = payload.get("batch")
        if not isinstance(batch, list):
            raise OmnitrailError("must be a list of events", code="invalid_field", field="batch")
        context = payload.get("context")
        return batch, strip_nul(context) if isinstance(context, dict) else {}
    event = dict(payload)
    event.pop("writeKey", None)
    event["type"] = endpoint
    return [event], {}


@lru_cache(maxsize=1)
def _trusted_proxies(
    setting: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in setting)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from: the connection's, or, when that is one of
    OMNITRAIL_TRUSTED_PROXIES, the last address in X-Forwarded-For that is not."""
    trusted = _trusted_proxies(tuple(settings.OMNITRAIL_TRUSTED_PROXIES))
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    forwarded = request.headers.get("X-Forwarded-For", "")
    if not forwarded or not any(remote in network for network in trusted):
        return str(remote)
    for hop in reversed(forwarded.split(",")):
        address = _address(hop)
        if address is None:
            break
        if not any(address in network for network in trusted):
            return str(address)
    return str(remote)


def _request_context(request: HttpRequest) -> dict[str, str]:
    """What the request itself says of the sender, for events that do not say it: its
    address, and, for a page's request (a browser sends Origin), its User-Agent. A
    server library's User-Agent (analytics-node, python-requests) describes no person's
    browser, and would read as a bot, so it is never taken."""
    context = {}
    ip = client_ip(request)
    if ip:
        context["ip"] = ip
    agent = request.headers.get("User-Agent", "")
    if agent and request.headers.get("Origin"):
        context["userAgent"] = strip_nul(agent[:2048])
    return context


def _write_key(request: HttpRequest, payload: Any) -> Any:
    """The write key from the query string (RudderStack's beacon) or the body."""
    if "writeKey" in request.GET:
        return request.GET["writeKey"]
    return payload.get("writeKey") if isinstance(payload, dict) else None


def _source_for(write_key: Any) -> Source:
    if write_key is not None and not isinstance(write_key, str):
        raise AuthenticationFailed(
            f"must be a string, not {type(write_key).__name__}",
            code="invalid_write_key",
            field="writeKey",
        )
    return authenticate_source(write_key)


def _check_origin(request: HttpRequest, source: Source) -> None:
    origin = request.headers.get("Origin")
    if origin and source.allowed_origins and origin.rstrip("/") not in source.allowed_origins:
        raise OriginNotAllowed(
            f"{origin[:100]} may not send with this write key (the source's allowed origins)",
            field="Origin",
        )


@csrf_exempt
@require_POST
def segment_endpoint(request: HttpRequest, endpoint: str) -> JsonResponse:
    """POST /v1/{batch,track,identify,page,screen,alias,group}, their one-letter forms
    (/v1/t …), /v1/import and RudderStack's /beacon/v1/batch."""
    received_at = timezone.now()
    endpoint = ENDPOINTS.get(endpoint, endpoint)
    source: Source | None = None
    body = b""
    try:
        header_key = _write_key_from_header(request)
        if header_key:
            source = authenticate_source(header_key)
        elif "writeKey" in request.GET:
            source = _source_for(request.GET["writeKey"])
        if source is not None:
            _check_origin(request, source)
        limit = (
            settings.OMNITRAIL_MAX_BATCH_BYTES
            if endpoint == "batch"
            else settings.OMNITRAIL_MAX_EVENT_BYTES
        )
        body = _decompressed(request, limit)
        payload = _parse_json(body)
        if source is None:
            source = _source_for(_write_key(request, payload))
            _check_origin(request, source)
        events, batch_context = _events_of(payload, endpoint)
        take_rate_budget(source, len(events))
        result = ingest_batch(
            source,
            events,
            received_at=received_at,
            sent_at=payload.get("sentAt"),
            batch_context=_request_context(request) | batch_context,
            field_prefix="batch" if endpoint == "batch" else "",
        )
    except OmnitrailError as error:
        if source is not None and error.status in (400, 413):
            return _rejected_body(source, body or _raw_body(request), error)
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


def _rejected_body(source: Source, body: bytes, error: OmnitrailError) -> JsonResponse:
    """A body refused whole: counted against the source's rate budget like its events
    (a public browser key must not fill the table), then kept, bounded, for the operator."""
    try:
        take_rate_budget(source, 1)
    except RateLimited as limited:
        return error_response(limited)
    record_rejected_body(source, body, code=error.code, reason=str(error))
    return error_response(error)
