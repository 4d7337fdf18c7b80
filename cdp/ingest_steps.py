"""The parts of ingestion that belong to the apps above cdp, which cdp does not import.

cdp validates and stores touchpoints. Reading the consent an event carries, keeping the
events of erased people out, and the work that follows a stored batch (identity
resolution, consent recording, segment membership) belong to identity, consent and
attribution, which sit above cdp: layers point down, so cdp cannot import them. Each of
them registers its part here in its `AppConfig.ready()`.

Django runs those in INSTALLED_APPS order (cdp.settings), so the work after a batch is
chained in that order: identity first, because the other steps need the profiles it
finds, then consent, then attribution's segments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# An event's context.consent → None when it can be read; else it raises
# cdp.errors.OmnitrailError naming the field.
ConsentCheck = Callable[[Any], None]
# Normalised touchpoint rows by message id → the message ids carrying an identifier of
# an erased person.
SuppressionCheck = Callable[[Mapping[str, dict[str, Any]]], set[str]]
# (source id, new message ids, those of them carrying consent) → the Celery signature of
# the work to do on them, or None when there is none.
TouchpointWork = Callable[[int, list[str], list[str]], Any]

_consent_checks: list[ConsentCheck] = []
_suppression_checks: list[SuppressionCheck] = []
_touchpoint_work: list[TouchpointWork] = []


def _add(registry: list, step: Callable) -> None:
    # ready() may run again (a test reloading apps): register each step once.
    if step not in registry:
        registry.append(step)


def register_consent_check(check: ConsentCheck) -> None:
    _add(_consent_checks, check)


def register_suppression_check(check: SuppressionCheck) -> None:
    _add(_suppression_checks, check)


def register_touchpoint_work(work: TouchpointWork) -> None:
    _add(_touchpoint_work, work)


def check_event_consent(consent: Any) -> None:
    """Raise OmnitrailError (its field and message) when the consent cannot be read."""
    for check in _consent_checks:
        check(consent)


def suppressed_messages(rows: Mapping[str, dict[str, Any]]) -> set[str]:
    """The message ids of `rows` that carry an identifier of an erased person.

    Never skipped: without a registered check ingestion refuses to store anything,
    since storing would let an erased person back in."""
    if not _suppression_checks:
        raise ImproperlyConfigured(
            "no suppression check is registered (the consent app registers it in its "
            "AppConfig.ready()); events cannot be stored without it"
        )
    return set().union(*(check(rows) for check in _suppression_checks))


def touchpoint_work(source_id: int, message_ids: list[str], with_consent: list[str]) -> list:
    """The Celery signatures of the work on new touchpoints, in the order to run them."""
    signatures = (work(source_id, message_ids, with_consent) for work in _touchpoint_work)
    return [signature for signature in signatures if signature is not None]
