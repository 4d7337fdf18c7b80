"""Data-subject requests (GDPR articles 15 and 17, CCPA): access and erasure."""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from cdp.audit import forget_in_audit
from cdp.errors import InvalidField, OmnitrailError
from cdp.models import AuditEntry, Profile, Touchpoint
from cdp.services.erasure import erase_profiles, profile_texts
from consent.errors import InvalidIdentifier
from consent.models import ConsentRecord, DataSubjectRequest
from consent.personal_data import held_above, work_after_erasure
from consent.selectors import profile_by_identifier
from consent.suppression import identifier_hash, mark_active, suppress
from identity.selectors import (
    merge_decision_summary,
    merge_history,
    merged_members,
    profiles_split_off,
)
from identity.services.erasure import forget_profiles, identifiers_of_profiles


def open_request(kind: str, identifier: str, *, requested_by=None) -> DataSubjectRequest:
    """Record a request; the work is done by `process_request` (a Celery task, on commit)."""
    from consent.tasks import process_data_subject_request

    if kind not in DataSubjectRequest.Kind.values:
        raise InvalidField(
            f"{kind!r} is not one of {', '.join(DataSubjectRequest.Kind.values)}", field="kind"
        )
    request = DataSubjectRequest.objects.create(
        kind=kind, identifier=identifier_of(identifier), requested_by=requested_by
    )
    transaction.on_commit(lambda: process_data_subject_request.delay(request.pk))
    return request


_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")


def identifier_of(text: str) -> str:
    """The `kind:value` a person means: written so (`user_id:42`), or a plain email
    address (`email:`) or phone number (`phone:`) with the kind inferred."""
    text = (text or "").strip()
    kind, sep, value = text.partition(":")
    if sep and _KIND.match(kind) and value.strip():
        return f"{kind}:{value.strip()}"
    if "@" in text and " " not in text and not sep:
        return f"email:{text}"
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= 7:
        return f"phone:{text}"
    raise InvalidIdentifier(
        "write an email address, a phone number or kind:value (e.g. user_id:42)",
        field="identifier",
    )


def _plain(value: Any) -> Any:
    """JSON-ready: datetimes, decimals and UUIDs as strings."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def access_bundle(profile: Profile) -> dict[str, Any]:
    """Everything held about the person: the profile and those merged into it, their
    identifiers, every touchpoint, the consent history and the merge decisions."""
    members = sorted(merged_members({profile.pk}))
    profiles = Profile.objects.filter(pk__in=members)
    touchpoints = Touchpoint.objects.filter(profile_id__in=members).order_by("timestamp", "id")
    consents = ConsentRecord.objects.filter(profile_id__in=members).order_by("given_at", "id")
    merges = {decision.pk: decision for pk in members for decision in merge_history(pk)}
    return _plain(
        {
            "generated_at": timezone.now(),
            "profile": profile.pk,
            "profiles": [
                {
                    "id": p.pk,
                    "merged_into": p.merged_into_id,
                    "traits": p.traits,
                    "trait_sources": p.trait_sources,
                    "created_at": p.created_at,
                    "updated_at": p.updated_at,
                }
                for p in profiles
            ],
            "identifiers": [
                {"kind": kind, "value": value} for kind, value in identifiers_of_profiles(members)
            ],
            "touchpoints": list(
                touchpoints.values(
                    "id",
                    "source__name",
                    "message_id",
                    "type",
                    "event",
                    "anonymous_id",
                    "user_id",
                    "timestamp",
                    "received_at",
                    "properties",
                    "traits",
                    "context",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "page_url",
                    "ip",
                    "user_agent",
                    "revenue",
                    "currency",
                    "profile_id",
                )
            ),
            "consents": list(
                consents.values(
                    "purpose__key",
                    "status",
                    "given_at",
                    "expires_at",
                    "channel",
                    "source__name",
                    "evidence",
                    "profile_id",
                )
            ),
            "merge_decisions": [
                merge_decision_summary(d) for d in sorted(merges.values(), key=lambda d: d.pk)
            ],
            # What the apps above consent hold (attribution: segment stays and the facts
            # segments read; its credits are per channel and campaign, never per person).
            **held_above(members),
        }
    )


def person_profiles(profile_id: int, *, rounds: int = 10) -> set[int]:
    """Every profile of the person: those merged into this one, and those holding an
    identifier of theirs that a guardrail kept apart (the per-kind limit), and theirs in
    turn (a few rounds: a chain longer than that is not one person's)."""
    members = set(merged_members({profile_id}))
    for _ in range(rounds):
        more = profiles_split_off(members) - members
        if not more:
            break
        members |= set(merged_members(more))
    return members


@transaction.atomic
def erase(request: DataSubjectRequest, profile: Profile) -> dict[str, Any]:
    """Delete the person everywhere, keep a proof without personal data, and suppress
    their identifiers so that later events are dropped at ingest."""
    members = sorted(person_profiles(profile.pk))
    identifiers = identifiers_of_profiles(members)
    texts = [value for _, value in identifiers] + profile_texts(members)
    hashed = suppress(identifiers, request=request)
    counts = {"consent_records": ConsentRecord.objects.filter(profile_id__in=members).delete()[0]}
    counts |= forget_profiles(members, texts)
    counts |= erase_profiles(members, texts)
    # the /app/ searches that found the person are recorded by identifier hash
    counts["audit_entries_cleaned"] += forget_in_audit([], hashes=[h["hash"] for h in hashed])
    # Earlier requests about the same person: their bundles go, their identifier is hashed.
    kind, _, value = request.identifier.partition(":")
    for earlier in DataSubjectRequest.objects.filter(identifier=request.identifier):
        earlier.identifier = f"{kind}:{identifier_hash(kind, value)}"
        earlier.result = {} if earlier.pk != request.pk else earlier.result
        earlier.save(update_fields=["identifier", "result"])
    request.refresh_from_db()
    mark_active()
    # Derived aggregates (attribution credits) are recomputed without the person.
    for work in work_after_erasure():
        transaction.on_commit(work)
    return {"erased_at": timezone.now().isoformat(), "deleted": counts, "suppressed": hashed}


def process_request(request_id: int, *, handled_by: str = "celery") -> DataSubjectRequest:
    """Do what the request asks. Idempotent: a finished request is left as it is."""
    request = DataSubjectRequest.objects.get(pk=request_id)
    if request.status != DataSubjectRequest.Status.PENDING:
        return request
    try:
        profile = profile_by_identifier(request.identifier)
    except OmnitrailError as error:
        request.status = DataSubjectRequest.Status.NOT_FOUND
        request.error = str(error)
    else:
        if request.kind == DataSubjectRequest.Kind.ACCESS:
            request.result = access_bundle(profile)
            action = AuditEntry.Action.EXPORT
        else:
            request.result = erase(request, profile)
            action = AuditEntry.Action.ERASE
        request.status = DataSubjectRequest.Status.COMPLETED
        AuditEntry.objects.create(
            user=request.requested_by,
            username=handled_by,
            action=action,
            object_type="profile",
            object_id=str(profile.pk),
            path=f"data-subject request {request.pk}",
        )
    request.completed_at = timezone.now()
    request.handled_by = handled_by
    request.save()
    return request
