"""Reading consent from what arrives with an event. Pure: no Django.

Three shapes under a Segment event's `context.consent`:

- `categoryPreferences`: `{"Analytics": true, "Advertising": false}`, as Segment's
  consent management sends it;
- `consentMode`: Google Consent Mode v2 signals, `{"ad_storage": "granted", ...}`;
- `tcString`: an IAB TCF v2.2 consent string, decoded with `iab-tcf`.

Each purpose says which categories, signals or TCF purposes stand for it; a purpose
is granted when all of them are, denied when one is not, and not stated when none of
them is present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import iab_tcf

CONSENT_MODE_SIGNALS = frozenset(
    {
        "ad_storage",
        "analytics_storage",
        "ad_user_data",
        "ad_personalization",
        "functionality_storage",
        "personalization_storage",
        "security_storage",
    }
)
CONSENT_MODE_VALUES = frozenset({"granted", "denied"})


class InvalidConsent(ValueError):
    """Consent that cannot be read: `field` names where it is, `message` what is wrong
    there; in words the two read `context.consent.tcString: not a valid ...` (as
    cdp.errors.OmnitrailError, which this pure module does not import)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class PurposeSpec:
    key: str
    segment_categories: tuple[str, ...] = ()
    consent_mode_signals: tuple[str, ...] = ()
    tcf_purposes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Statement:
    """What one event says about one purpose."""

    purpose: str
    status: str  # granted or denied
    channel: str  # segment, consent_mode or tcf
    evidence: dict[str, Any] = field(default_factory=dict)


def _categories(value: Any, prefix: str) -> dict[str, bool]:
    if not isinstance(value, Mapping) or not all(isinstance(v, bool) for v in value.values()):
        raise InvalidConsent(
            f"{prefix}.categoryPreferences", "must be an object of category names to true/false"
        )
    return {str(name).strip().lower(): allowed for name, allowed in value.items()}


def _consent_mode(value: Any, prefix: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidConsent(f"{prefix}.consentMode", "must be an object of signals")
    signals = {}
    for name, state in value.items():
        if name not in CONSENT_MODE_SIGNALS:
            raise InvalidConsent(
                f"{prefix}.consentMode.{name}",
                f"not a Consent Mode v2 signal (one of {', '.join(sorted(CONSENT_MODE_SIGNALS))})",
            )
        if state not in CONSENT_MODE_VALUES:
            raise InvalidConsent(f"{prefix}.consentMode.{name}", 'must be "granted" or "denied"')
        signals[name] = state
    return signals


def decode_tc_string(value: Any, field_name: str = "tcString") -> Any:
    """The decoded IAB TCF v2 consent string, or InvalidConsent saying why not."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidConsent(field_name, "must be a non-empty IAB TCF consent string")
    try:
        decoded = iab_tcf.decode(value.strip())
    except Exception as error:  # the library raises bare Exceptions and bit-reader errors
        raise InvalidConsent(field_name, f"not a valid IAB TCF string ({error})") from None
    if getattr(decoded, "version", None) != 2:
        raise InvalidConsent(field_name, "only IAB TCF v2 strings are read (this one is v1)")
    return decoded


@dataclass(frozen=True)
class _Read:
    categories: dict[str, bool]
    signals: dict[str, str]
    tc: Any  # the decoded TCF string, or None


def _read(consent: Any, prefix: str = "context.consent") -> _Read | None:
    """Every part of `consent` read once; InvalidConsent names the part at fault."""
    if consent is None:
        return None
    if not isinstance(consent, Mapping):
        raise InvalidConsent(prefix, "must be an object")
    return _Read(
        categories=(
            _categories(consent["categoryPreferences"], prefix)
            if "categoryPreferences" in consent
            else {}
        ),
        signals=_consent_mode(consent["consentMode"], prefix) if "consentMode" in consent else {},
        tc=(
            decode_tc_string(consent["tcString"], f"{prefix}.tcString")
            if "tcString" in consent
            else None
        ),
    )


def check(consent: Any, prefix: str = "context.consent") -> None:
    """Raise InvalidConsent when `consent` (an event's `context.consent`) cannot be read."""
    _read(consent, prefix)


def statements(consent: Any, purposes: Iterable[PurposeSpec]) -> list[Statement]:
    """What `consent` says about each purpose (nothing for purposes it does not cover).

    Raises InvalidConsent as `check` does.
    """
    read = _read(consent)
    if read is None:
        return []
    categories, signals, tc = read.categories, read.signals, read.tc
    found: list[Statement] = []
    for purpose in purposes:
        # Several channels in one event: the TCF string is the most specific, then
        # Consent Mode, then the site's own categories.
        if tc is not None and purpose.tcf_purposes:
            granted = all(tc.purposes_consent.get(p, False) for p in purpose.tcf_purposes)
            evidence = {
                "tcString": consent["tcString"].strip(),
                "cmpId": tc.cmp_id,
                "tcfPolicyVersion": tc.tcf_policy_version,
                "purposes": list(purpose.tcf_purposes),
            }
            found.append(Statement(purpose.key, _status(granted), "tcf", evidence))
            continue
        wanted = [s for s in purpose.consent_mode_signals if s in signals]
        if purpose.consent_mode_signals and len(wanted) == len(purpose.consent_mode_signals):
            granted = all(signals[s] == "granted" for s in wanted)
            evidence = {"consentMode": {s: signals[s] for s in wanted}}
            found.append(Statement(purpose.key, _status(granted), "consent_mode", evidence))
            continue
        named = [c.lower() for c in purpose.segment_categories if c.lower() in categories]
        if named:
            granted = all(categories[c] for c in named)
            evidence = {"categoryPreferences": {c: categories[c] for c in named}}
            found.append(Statement(purpose.key, _status(granted), "segment", evidence))
    return found


def _status(granted: bool) -> str:
    return "granted" if granted else "denied"
