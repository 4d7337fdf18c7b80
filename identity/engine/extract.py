"""Which identifiers one touchpoint carries. Pure: works on the touchpoint's fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from identity.engine.normalize import normalize_identifier, phone_region

Key = tuple[str, str]


def identifiers_of_event(
    event: Mapping[str, Any],
    *,
    identifier_traits: Iterable[str],
    default_region: str = "US",
) -> list[Key]:
    """(kind, normalised value) pairs seen together on one event, in a stable order.

    `event` has the touchpoint's columns: anonymous_id, user_id, previous_id, traits,
    context. Traits named in `identifier_traits` (email, phone, loyalty_id ...) count as
    identifiers of that kind (a phone written without its country code is read in the
    traits' `country`, else `default_region`); `context.externalIds` entries count as
    their `type`.
    """
    found: list[Key] = []

    def add(kind: str, value: Any, region: str = default_region) -> None:
        if value is None or value == "":  # most ids on most events: skipped unparsed
            return
        normalized = normalize_identifier(kind, value, default_region=region)
        if normalized is not None and (kind, normalized) not in found:
            found.append((kind, normalized))

    add("user_id", event.get("user_id"))
    add("anonymous_id", event.get("anonymous_id"))
    context = event.get("context") or {}
    for traits in (event.get("traits") or {}, context.get("traits") or {}):
        if traits and isinstance(traits, Mapping):
            region = phone_region(traits.get("country"), default_region)
            for name in identifier_traits:
                add(name, traits.get(name), region)
    external_ids = context.get("externalIds") or []
    if isinstance(external_ids, list):
        for external in external_ids:
            if isinstance(external, Mapping) and isinstance(external.get("type"), str):
                add(external["type"], external.get("id"))
    device = context.get("device")
    if isinstance(device, Mapping):
        add("device_id", device.get("id"))
    return found
