"""Validation and normalisation of Segment-spec messages into touchpoint fields.

Pure: no Django. The HTTP endpoints, the file importer and the resubmission of rejected
events all pass through `normalize_message`, so every channel applies the same rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlsplit

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cdp.engine.enrichment import (
    UnreadableAmount,
    anonymize_ip,
    currency_code,
    parse_user_agent,
    read_amount,
)

MESSAGE_TYPES = ("track", "identify", "page", "screen", "alias", "group")
UTM_FIELDS = ("source", "medium", "name", "term", "content")
# The top-level keys that have columns; every other key the SDK sent (integrations,
# _metadata, channel, a page's category, anything new) is kept as sent in `extras`.
COLUMN_KEYS = frozenset(
    (
        "type", "messageId", "anonymousId", "userId", "previousId", "groupId", "event",
        "name", "timestamp", "originalTimestamp", "sentAt", "receivedAt", "properties",
        "traits", "context", "writeKey",
    )
)  # fmt: skip
AMOUNT_FIELDS = ("revenue", "total", "value", "price")
# A time before this, or more than a day after the event was received, is not believed.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=1)
CALENDAR_END = datetime(9000, 1, 1, tzinfo=UTC)  # far from datetime's overflow
_datetime = TypeAdapter(datetime)
# Deeper than this an event is refused (orjson, the fast encoder, stops at 255 too).
MAX_DEPTH = 255


class InvalidMessage(ValueError):
    """A message that breaks the spec; `field` names the offending path."""

    def __init__(self, code: str, field: str, message: str):
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class MessageWarning:
    """Something in a stored event that was dropped or replaced; the event is kept."""

    code: str
    field: str
    message: str


def _id_as_text(value: Any) -> Any:
    # The spec allows numeric ids; we keep every id as text, an integer as its digits
    # (the HTTP endpoint reads integers of any length exactly, never through a float).
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else str(value)
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
    # Read leniently in normalize_message: a bad time is replaced, never a refusal.
    timestamp: Any = None
    originalTimestamp: Any = None
    sentAt: Any = None
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
    # Traits that stand for a person without a userId (file imports only).
    identifier_traits: tuple[str, ...] = ()
    # Traits identity reads as identifiers: their values must fit its columns.
    identifier_trait_names: tuple[str, ...] = ("email", "phone", "loyalty_id", "crm_id")
    max_amount: Decimal = Decimal("1000000000")
    anonymize_ip: bool = False
    # File imports: an amount or currency that cannot be read refuses the row (the
    # operator fixes the file at the line named); SDKs get the lenient reading.
    strict_amounts: bool = False
    # A time more than a day after receipt is not believed from an SDK; a file import
    # (planned or generated data) keeps it, short of the calendar's end.
    bound_future: bool = True


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


def _depth(value: Any) -> int:
    """How deeply `value` nests, counted without recursion (it may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def message_id_for(raw: dict[str, Any]) -> str:
    """A stable id for a message sent without one, so that its retry is still a duplicate."""
    try:
        canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
    digest = hashlib.sha256(canonical).hexdigest()
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


def _read_time(
    value: Any, field: str, latest: datetime, warnings: list[MessageWarning]
) -> datetime | None:
    """A time the event gives, in UTC; None (with a warning) when it cannot be read or is
    absurd: before 1970 or more than a day after it was received."""
    if value in (None, ""):
        return None
    try:
        parsed = _datetime.validate_python(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValidationError, OverflowError, ValueError):
        warnings.append(
            MessageWarning(
                "unreadable_timestamp", field, f"{field}: not a time ({str(value)[:60]!r}); ignored"
            )
        )
        return None
    if parsed < EARLIEST or parsed > latest:
        warnings.append(
            MessageWarning(
                "timestamp_out_of_range",
                field,
                f"{field}: {parsed.isoformat()} is before 1970 or more than a day ahead; ignored",
            )
        )
        return None
    return parsed


def event_times(
    message: SegmentMessage,
    *,
    batch_sent_at: Any,
    received_at: datetime,
    prefix: str,
    warnings: list[MessageWarning],
    bound_future: bool = True,
) -> tuple[datetime, datetime | None, datetime | None]:
    """(timestamp, original timestamp, sentAt) by both specs' rule: an explicit
    `timestamp` is the event time; else `originalTimestamp` corrected by the `sentAt`
    skew; else when it was received. A time that cannot be believed is left out, with
    a warning, and the next rule applies."""
    latest = received_at + LATEST_AHEAD if bound_future else CALENDAR_END
    timestamp = _read_time(message.timestamp, f"{prefix}timestamp", latest, warnings)
    original = _read_time(message.originalTimestamp, f"{prefix}originalTimestamp", latest, warnings)
    sent_field = f"{prefix}sentAt" if message.sentAt not in (None, "") else "sentAt"
    sent_at = _read_time(
        message.sentAt if message.sentAt not in (None, "") else batch_sent_at,
        sent_field,
        latest,
        warnings,
    )
    if timestamp is not None:
        return timestamp, original or timestamp, sent_at
    if original is not None:
        corrected = correct_clock_skew(
            event_time=original, sent_at=sent_at, received_at=received_at
        )
        if EARLIEST <= corrected <= latest:
            return corrected, original, sent_at
        warnings.append(
            MessageWarning(
                "timestamp_out_of_range",
                f"{prefix}originalTimestamp",
                f"{prefix}originalTimestamp: corrected by sentAt it falls out of range; ignored",
            )
        )
    return received_at, original, sent_at


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


def _is_refund(event: str) -> bool:
    return "refund" in event.lower()


def _amounts(
    properties: dict[str, Any],
    *,
    event: str,
    limits: Limits,
    prefix: str,
    warnings: list[MessageWarning],
) -> tuple[Decimal | None, str]:
    """The event's revenue (`revenue`, else `total`) and currency; `value` and `price` are
    checked the same way (attribution reads `value` when a goal names it).

    Lenient, never silent: "$19.99" and "19,99 €" are read; an amount that cannot be read,
    is beyond OMNITRAIL_MAX_AMOUNT, or is negative on an event that is not a refund is
    left out (null) with a warning; a currency that is no ISO 4217 code (any case, or
    numeric) is left out with a warning. The properties are kept as sent."""
    revenue: Decimal | None = None
    revenue_field = next(
        (name for name in AMOUNT_FIELDS[:2] if properties.get(name) not in (None, "")), None
    )
    written_currency = None
    for name in AMOUNT_FIELDS:
        value = properties.get(name)
        if value in (None, ""):
            continue
        field = f"{prefix}properties.{name}"
        try:
            amount, symbol = read_amount(value)
        except UnreadableAmount:
            if limits.strict_amounts and name in ("revenue", "total"):
                raise InvalidMessage(
                    "invalid_field", field, f"{field}: must be a number, got {value!r}"
                ) from None
            warnings.append(
                MessageWarning("unreadable_amount", field, f"{field}: not an amount ({value!r})")
            )
            continue
        if abs(amount) > limits.max_amount:
            warnings.append(
                MessageWarning(
                    "amount_out_of_range",
                    field,
                    f"{field}: {amount} is beyond the limit of {limits.max_amount}",
                )
            )
            continue
        if amount < 0 and not _is_refund(event):
            warnings.append(
                MessageWarning(
                    "negative_amount",
                    field,
                    f"{field}: negative amounts count only on refund events",
                )
            )
            continue
        if name == revenue_field:
            revenue, written_currency = amount, symbol
    given = properties.get("currency")
    if given in (None, ""):
        given = written_currency if written_currency and len(written_currency) == 3 else None
        return revenue, (currency_code(given) or "") if given else ""
    code = currency_code(given)
    if code is None:
        field = f"{prefix}properties.currency"
        if limits.strict_amounts:
            raise InvalidMessage(
                "invalid_field", field, f"{field}: must be an ISO 4217 code, got {given!r}"
            )
        warnings.append(
            MessageWarning(
                "unknown_currency", field, f"{field}: {str(given)[:20]!r} is no ISO 4217 code"
            )
        )
        return revenue, ""
    return revenue, code


def _ip(value: Any, *, anonymize: bool) -> str | None:
    # A malformed IP stays in context; the column only holds addresses.
    return _read_ip(value, anonymize) if isinstance(value, str) and value else None


@lru_cache(maxsize=4096)
def _read_ip(value: str, anonymize: bool) -> str | None:
    """The address in its canonical form (anonymised when asked), None when it is not
    one; kept per process, since a batch's events mostly share their sender's IP."""
    try:
        address = str(ipaddress.ip_address(value))
    except ValueError:
        return None
    return anonymize_ip(address) if anonymize else address


def strip_nul(value: Any) -> Any:
    """The value with every NUL character taken out of its strings and keys (PostgreSQL
    text and jsonb cannot hold one)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {strip_nul(key): strip_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strip_nul(item) for item in value]
    return value


def _check_identifiers(message: SegmentMessage, limits: Limits, prefix: str) -> None:
    """Identifier values identity must store: an email over 254 characters (RFC 5321),
    another trait over 255, an external id type over 40 or id over 255 refuse the event."""
    context = message.context or {}
    for path, traits in (("traits", message.traits), ("context.traits", context.get("traits"))):
        if not isinstance(traits, dict):
            continue
        for name in limits.identifier_trait_names:
            value = traits.get(name)
            limit = 254 if name == "email" else 255
            if isinstance(value, str | int) and len(str(value)) > limit:
                field = f"{prefix}{path}.{name}"
                raise InvalidMessage(
                    "identifier_too_long", field, f"{field}: longer than {limit} characters"
                )
    external_ids = context.get("externalIds")
    if not isinstance(external_ids, list):
        return
    for position, external in enumerate(external_ids):
        if not isinstance(external, dict):
            continue
        for key, limit in (("type", 40), ("id", 255)):
            value = external.get(key)
            if isinstance(value, str | int) and len(str(value)) > limit:
                field = f"{prefix}context.externalIds[{position}].{key}"
                raise InvalidMessage(
                    "identifier_too_long", field, f"{field}: longer than {limit} characters"
                )


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
    batch_sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    field_prefix: str = "",
    warnings: list[MessageWarning] | None = None,
) -> dict[str, Any]:
    """Check one message and return the touchpoint's fields, or raise InvalidMessage.

    What was replaced or left out of a stored event (a time not believed, an amount not
    read, NUL characters) is appended to `warnings`."""
    warnings = warnings if warnings is not None else []
    where = field_prefix.rstrip(".") or "body"
    if not isinstance(raw, dict):
        raise InvalidMessage("invalid_field", where, "an event must be a JSON object")
    try:
        encoded = orjson.dumps(raw)
    except orjson.JSONEncodeError:
        # orjson stops at 255 levels and at integers beyond 64 bits (a 30-digit id).
        if _depth(raw) > MAX_DEPTH:
            raise InvalidMessage(
                "too_deep", where, f"{where}: nested more than {MAX_DEPTH} levels deep"
            ) from None
        encoded = json.dumps(raw, ensure_ascii=False).encode()
    size = len(encoded)
    if size > limits.max_event_bytes:
        raise InvalidMessage(
            "event_too_large",
            where,
            f"event is {size} bytes; the limit is {limits.max_event_bytes} bytes (32 KB)",
        )
    if b"\\u0000" in encoded:
        raw = strip_nul(raw)
        warnings.append(
            MessageWarning("nul_stripped", where, f"{where}: NUL characters were removed")
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
    _check_identifiers(message, limits, field_prefix)

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
    event = (message.event or message.name or "")[:255]
    revenue, currency = _amounts(
        properties, event=event, limits=limits, prefix=field_prefix, warnings=warnings
    )
    timestamp, original, sent_at = event_times(
        message,
        batch_sent_at=batch_sent_at,
        received_at=received_at,
        prefix=field_prefix,
        warnings=warnings,
        bound_future=limits.bound_future,
    )
    ip = _ip(context.get("ip"), anonymize=limits.anonymize_ip)
    if limits.anonymize_ip and "ip" in context:
        context["ip"] = ip  # nothing stored holds the full address
    user_agent = _text(context.get("userAgent"))
    agent = parse_user_agent(user_agent[:2048])

    return {
        "message_id": message.messageId or message_id_for(raw),
        "type": message.type,
        "event": event,
        "anonymous_id": message.anonymousId or "",
        "user_id": message.userId or "",
        "previous_id": message.previousId or "",
        "group_id": message.groupId or "",
        "timestamp": timestamp,
        "original_timestamp": original,
        "sent_at": sent_at,
        "received_at": received_at,
        "properties": properties,
        "traits": message.traits or {},
        "context": context,
        "extras": {key: value for key, value in raw.items() if key not in COLUMN_KEYS},
        "utm_source": campaign.get("source", ""),
        "utm_medium": campaign.get("medium", ""),
        "utm_campaign": campaign.get("name", ""),
        "utm_term": campaign.get("term", ""),
        "utm_content": campaign.get("content", ""),
        "page_url": page_url,
        "referrer": referrer,
        "ip": ip,
        "user_agent": user_agent,
        "browser": agent.browser,
        "os": agent.os,
        "is_bot": agent.is_bot,
        "device_id": _text(device.get("id"))[:255],
        "device_type": _text(device.get("type"))[:50] or agent.device_type,
        "revenue": revenue,
        "currency": currency,
    }
