"""What consent does for cdp's ingestion, registered in ConsentConfig.ready() (see
cdp.ingest_steps): read the consent an event carries, keep the events of erased people
out (consent.suppression), and record the consent of stored touchpoints once identity
has placed them on profiles."""

from __future__ import annotations

from typing import Any

from cdp.errors import OmnitrailError
from consent.engine.parsing import InvalidConsent, check


def check_event_consent(consent: Any) -> None:
    """Raise OmnitrailError (code invalid_consent, the field) when `consent`, an event's
    context.consent, cannot be read."""
    try:
        check(consent)
    except InvalidConsent as error:
        raise OmnitrailError(error.message, code="invalid_consent", field=error.field) from error


def record_consents_after_ingest(source_id: int, message_ids: list[str], with_consent: list[str]):
    """The consent task for the touchpoints that carry consent, if any do."""
    if not with_consent:
        return None
    from consent.tasks import record_consents_of_touchpoints

    return record_consents_of_touchpoints.si(source_id, with_consent)
