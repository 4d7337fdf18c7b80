"""Writing consent: one record per statement, never an update."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cdp.errors import InvalidField, OmnitrailError
from cdp.models import Profile, Source, Touchpoint
from consent.engine.parsing import InvalidConsent, PurposeSpec, statements
from consent.models import ConsentRecord, Purpose
from consent.policy import purpose_by_key
from consent.selectors import profile_by_identifier


def purpose_specs() -> list[PurposeSpec]:
    return [
        PurposeSpec(
            key=purpose.key,
            segment_categories=tuple(purpose.segment_categories),
            consent_mode_signals=tuple(purpose.consent_mode_signals),
            tcf_purposes=tuple(int(p) for p in purpose.tcf_purposes),
        )
        for purpose in Purpose.objects.all()
    ]


def record_consent(
    profile: Profile | int,
    purpose: Purpose | str,
    status: str,
    *,
    channel: str,
    given_at: datetime | None = None,
    expires_at: datetime | None = None,
    evidence: dict[str, Any] | None = None,
    source: Source | None = None,
    recorded_by=None,
) -> ConsentRecord:
    """Add one statement to the profile's consent history."""
    if status not in ConsentRecord.Status.values:
        raise InvalidField(
            f"{status!r} is not one of {', '.join(ConsentRecord.Status.values)}", field="status"
        )
    purpose = purpose if isinstance(purpose, Purpose) else purpose_by_key(purpose)
    return ConsentRecord.objects.create(
        profile_id=profile if isinstance(profile, int) else profile.pk,
        purpose=purpose,
        status=status,
        channel=channel,
        given_at=given_at or timezone.now(),
        expires_at=expires_at,
        evidence=evidence or {},
        source=source,
        recorded_by=recorded_by,
    )


@transaction.atomic
def record_touchpoint_consents(touchpoint_ids: list[int]) -> int:
    """Record what the consent carried by these touchpoints says, on the profiles they
    were resolved to. Idempotent: a touchpoint states each purpose once. Consent that
    cannot be read was already reported at ingest and is skipped here."""
    specs = purpose_specs()
    purposes = dict(Purpose.objects.values_list("key", "pk"))
    rows = (
        Touchpoint.objects.filter(pk__in=touchpoint_ids, profile__isnull=False)
        .filter(context__has_key="consent")
        .values_list("pk", "profile_id", "source_id", "timestamp", "context__consent")
    )
    records: list[ConsentRecord] = []
    for pk, profile_id, source_id, at, consent in rows.iterator(chunk_size=2000):
        try:
            said = statements(consent, specs)
        except InvalidConsent:
            continue
        records.extend(
            ConsentRecord(
                profile_id=profile_id,
                purpose_id=purposes[statement.purpose],
                status=statement.status,
                channel=statement.channel,
                given_at=at,
                evidence=statement.evidence,
                source_id=source_id,
                touchpoint_id=pk,
            )
            for statement in said
        )
    created = ConsentRecord.objects.bulk_create(records, ignore_conflicts=True, batch_size=1000)
    return len(created)


@dataclass
class ConsentImport:
    rows: int = 0
    recorded: int = 0
    errors: list[str] = field(default_factory=list)


# Who: an `identifier` column (kind:value), or columns named for identifier kinds, the
# first non-empty one used. When: `given_at` or `timestamp`.
IDENTIFIER_COLUMNS = ("identifier", "user_id", "email", "phone", "crm_id", "loyalty_id")
TIME_COLUMNS = ("given_at", "timestamp")


def import_consents(source: Source, path: Path | io.TextIOBase) -> ConsentImport:
    """Consent from a CSV file: who (an `identifier` column as kind:value, or user_id,
    email, phone, crm_id, loyalty_id columns), purpose, status, when (`given_at` or
    `timestamp`, ISO 8601), optionally expires_at; other columns are kept as evidence.
    Good rows are recorded, each bad one reported with its line number."""
    summary = ConsentImport()
    stream = path.open(newline="", encoding="utf-8-sig") if isinstance(path, Path) else path
    with stream:
        reader = csv.DictReader(stream)
        header = reader.fieldnames or []
        missing = [c for c in ("purpose", "status") if c not in header]
        if not any(c in header for c in IDENTIFIER_COLUMNS):
            missing.append(" or ".join(IDENTIFIER_COLUMNS))
        if not any(c in header for c in TIME_COLUMNS):
            missing.append(" or ".join(TIME_COLUMNS))
        if missing:
            summary.errors.append(f"line 1: missing column(s): {'; '.join(missing)}")
            return summary
        for row in reader:
            summary.rows += 1
            try:
                _import_row(source, row)
            except OmnitrailError as error:
                summary.errors.append(f"line {reader.line_num}: {error}")
                continue
            summary.recorded += 1
    return summary


def _when(value: str | None, column: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:  # the shape of one, but not a real time (a 30th of February)
        parsed = None
    if parsed is None:
        raise InvalidField(f"{value!r} is not an ISO 8601 date-time", field=column)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _who(row: dict[str, str]) -> Profile:
    for column in IDENTIFIER_COLUMNS:
        value = (row.get(column) or "").strip()
        if value:
            return profile_by_identifier(value if column == "identifier" else f"{column}:{value}")
    raise OmnitrailError(
        f"no identifier: fill one of {', '.join(IDENTIFIER_COLUMNS)}", code="missing_identifier"
    )


@transaction.atomic
def _import_row(source: Source, row: dict[str, str]) -> None:
    column = next((c for c in TIME_COLUMNS if row.get(c)), None)
    if column is None:
        raise InvalidField("required", field=" or ".join(TIME_COLUMNS), code="missing_field")
    used = {"purpose", "status", column, "expires_at", *IDENTIFIER_COLUMNS}
    record_consent(
        _who(row),
        (row.get("purpose") or "").strip(),
        (row.get("status") or "").strip().lower(),
        channel=ConsentRecord.Channel.IMPORT,
        given_at=_when(row[column], column),
        expires_at=_when(row.get("expires_at"), "expires_at"),
        evidence={k: v for k, v in row.items() if k not in used and v},
        source=source,
    )
