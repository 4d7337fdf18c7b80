"""Validation and normalisation of Segment-spec messages into touchpoint fields.

Pure: no Django. The HTTP endpoints, the file importer and the resubmission of rejected
events all pass through `normalize_message`, so every channel applies the same rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

MESSAGE_TYPES = ("track", "identify", "page", "screen", "alias", "group")
UTM_FIELDS = ("source", "medium", "name", "term", "content")


class InvalidMessage(ValueError):
    """A message that breaks the spec; `field` names the offending path."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


def _id_as_text(value: Any) -> Any:
    # The spec allows numeric ids; we keep every id as text.
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


Id = Annotated[str | None, BeforeValidator(_id_as_text)]


class SegmentMessage(BaseModel):
    """The fields of a Segment message that Omnitrail reads; the rest is kept as sent."""

    model_config = ConfigDict(extra="allow", str_max_length=255)

    type: Literal["track", "identify", "page", "screen", "alias", "group"]
    messageId: Id = None
    anonymousId: Id = None
    userId: Id = None
    previousId: Id = None
    groupId: Id = None
    event: str | None = None
    name: str | None = None
    timestamp: datetime | None = None
    originalTimestamp: datetime | None = None
    sentAt: datetime | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _required_by_type(self) -> SegmentMessage:
        if self.type == "track" and not (self.event and self.event.strip()):
            raise _missing("event", "a track call needs an event name")
        if self.type == "alias" and not self.previousId:
            raise _missing("previousId", "an alias call needs previousId")
        if self.type == "group" and not self.groupId:
            raise _missing("groupId", "a group call needs groupId")
        return self


# The error type of our own checks: pydantic carries the field they name in its context.
_MISSING = "missing_field"


def _missing(field: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(_MISSING, message, {"field": field})


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int
    identifier_traits: tuple[str, ...] = ()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pydantic_error(error: ValidationError, prefix: str) -> InvalidMessage:
    first = error.errors()[0]
    path = ".".join(str(part) for part in first["loc"])
    message = first["msg"]
    if first["type"] == _MISSING:
        path = first["ctx"]["field"]
    elif first["type"] == "literal_error":
        message = f"must be one of {', '.join(MESSAGE_TYPES)}"
    field = f"{prefix}{path}" if path else prefix.rstrip(".")
    code = "missing_field" if first["type"] in ("missing", _MISSING) else "invalid_field"
    return InvalidMessage(code, field, f"{field}: {message}")


def message_id_for(raw: dict[str, Any]) -> str:
    """A stable id for a message sent without one, so that its retry is still a duplicate."""
    digest = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"omnitrail-{digest[:40]}"


def correct_clock_skew(
    *,
    event_time: datetime | None,
    sent_at: datetime | None,
    received_at: datetime,
) -> datetime:
    """Segment's rule: timestamp = receivedAt - (sentAt - originalTimestamp)."""
    if event_time is None:
        return received_at
    if sent_at is None:
        return event_time
    return received_at - (sent_at - event_time)


def _campaign(context: dict[str, Any], page_url: str) -> dict[str, str]:
    campaign = context.get("campaign")
    found = {}
    if isinstance(campaign, dict):
        found = {key: str(campaign[key]) for key in UTM_FIELDS if campaign.get(key)}
    if not found and page_url and "utm_" in page_url:
        query = parse_qs(urlsplit(page_url).query)
        for key in UTM_FIELDS:
            values = query.get("utm_campaign" if key == "name" else f"utm_{key}")
            if values:
                found[key] = values[0]
    return {key: value[:255] for key, value in found.items()}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _revenue(properties: dict[str, Any], prefix: str) -> tuple[Decimal | None, str]:
    field = "revenue" if "revenue" in properties else "total" if "total" in properties else None
    revenue = None
    if field is not None and properties[field] not in (None, ""):
        try:
            revenue = Decimal(str(properties[field])).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise InvalidMessage(
                "invalid_field",
                f"{prefix}properties.{field}",
                f"{prefix}properties.{field}: must be a number, got {properties[field]!r}",
            ) from None
        if not revenue.is_finite() or abs(revenue) >= Decimal("1e12"):
            raise InvalidMessage(
                "invalid_field",
                f"{prefix}properties.{field}",
                f"{prefix}properties.{field}: out of range",
            )
    currency = properties.get("currency") or ""
    if currency and not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise InvalidMessage(
            "invalid_field",
            f"{prefix}properties.currency",
            f"{prefix}properties.currency: must be a 3-letter ISO 4217 code, got {currency!r}",
        )
    return revenue, currency.upper()


def _ip(value: Any) -> str | None:
    # A malformed IP stays in context; the column only holds addresses.
    try:
        return str(ipaddress.ip_address(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _has_identifier_trait(message: SegmentMessage, traits_names: tuple[str, ...]) -> bool:
    context = message.context or {}
    if context.get("externalIds"):
        return True
    for traits in (message.traits or {}, context.get("traits") or {}):
        if isinstance(traits, dict) and any(traits.get(name) for name in traits_names):
            return True
    return False


def normalize_message(
    raw: Any,
    *,
    received_at: datetime,
    limits: Limits,
    batch_sent_at: datetime | None = None,
    batch_context: dict[str, Any] | None = None,
    field_prefix: str = "",
) -> dict[str, Any]:
    """Check one message and return the touchpoint's fields, or raise InvalidMessage."""
    if not isinstance(raw, dict):
        raise InvalidMessage(
            "invalid_field", field_prefix.rstrip(".") or "body", "an event must be a JSON object"
        )
    size = len(orjson.dumps(raw))
    if size > limits.max_event_bytes:
        raise InvalidMessage(
            "event_too_large",
            field_prefix.rstrip(".") or "body",
            f"event is {size} bytes; the limit is {limits.max_event_bytes} bytes (32 KB)",
        )
    try:
        message = SegmentMessage.model_validate(raw)
    except ValidationError as error:
        raise _pydantic_error(error, field_prefix) from None

    if not (message.userId or message.anonymousId):
        if not (
            limits.identifier_traits and _has_identifier_trait(message, limits.identifier_traits)
        ):
            raise InvalidMessage(
                "missing_field",
                f"{field_prefix}userId",
                f"{field_prefix}userId: either userId or anonymousId is required",
            )

    context = dict(batch_context or {})
    context.update(message.context or {})
    properties = message.properties or {}
    page = given if isinstance(given := context.get("page"), dict) else {}
    page_url = _text(page.get("url")) or (
        _text(properties.get("url")) if message.type == "page" else ""
    )
    referrer = _text(page.get("referrer")) or (
        _text(properties.get("referrer")) if message.type == "page" else ""
    )
    device = given if isinstance(given := context.get("device"), dict) else {}
    campaign = _campaign(context, page_url)
    revenue, currency = _revenue(properties, field_prefix)
    event_time = _utc(message.originalTimestamp or message.timestamp)
    sent_at = _utc(message.sentAt or batch_sent_at)
    ip = _ip(context.get("ip"))

    return {
        "message_id": message.messageId or message_id_for(raw),
        "type": message.type,
        "event": (message.event or message.name or "")[:255],
        "anonymous_id": message.anonymousId or "",
        "user_id": message.userId or "",
        "previous_id": message.previousId or "",
        "group_id": message.groupId or "",
        "timestamp": correct_clock_skew(
            event_time=event_time, sent_at=sent_at, received_at=received_at
        ),
        "original_timestamp": event_time,
        "sent_at": sent_at,
        "received_at": received_at,
        "properties": properties,
        "traits": message.traits or {},
        "context": context,
        "utm_source": campaign.get("source", ""),
        "utm_medium": campaign.get("medium", ""),
        "utm_campaign": campaign.get("name", ""),
        "utm_term": campaign.get("term", ""),
        "utm_content": campaign.get("content", ""),
        "page_url": page_url,
        "referrer": referrer,
        "ip": ip,
        "user_agent": _text(context.get("userAgent")),
        "device_id": _text(device.get("id"))[:255],
        "device_type": _text(device.get("type"))[:50],
        "revenue": revenue,
        "currency": currency,
    }
