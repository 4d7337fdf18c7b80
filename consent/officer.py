"""What a privacy officer reads, in words: one person's consent per purpose (its display
name, state, since when, from which channel and source, with its evidence as lines, not
raw JSON), people found by email, phone or name, and an access request's result as
tables and as a ZIP download (the whole result as JSON, one CSV per table)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q

from cdp.models import Profile
from consent.models import ConsentRecord, DataSubjectRequest, Purpose
from consent.selectors import consent_history, current_consent
from identity.selectors import active_profile, identifiers_with_keys, search_keys

STATE_WORDS = {
    "granted": "Granted",
    "denied": "Denied",
    "withdrawn": "Withdrawn",
    None: "Not recorded",
}
# The traits a person's name is read from, in this order.
NAME_TRAITS = ("name", "first_name", "last_name")
SEARCH_LIMIT = 50


def person_name(profile: Profile) -> str:
    """The person's name from their traits ("Arjun Ramirez"), or "Customer N"."""
    traits = profile.traits or {}
    full = str(traits.get("name") or "").strip()
    if not full:
        full = " ".join(
            str(traits[t]).strip() for t in ("first_name", "last_name") if traits.get(t)
        )
    return full or f"Customer {profile.pk}"


def evidence_lines(evidence: Any) -> list[str]:
    """Evidence as "key: value" lines, nested keys joined with dots, in the keys' order
    (PostgreSQL's jsonb keeps no order of its own)."""
    lines: list[str] = []

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, child in sorted(value.items(), key=lambda item: str(item[0])):
                walk(child, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(value, list):
            text = ", ".join(json.dumps(v) if isinstance(v, dict | list) else str(v) for v in value)
            lines.append(f"{prefix}: {text}" if prefix else text)
        else:
            lines.append(f"{prefix}: {value}" if prefix else str(value))

    walk(evidence or {}, "")
    return lines


def person_consent(profile_id: int) -> list[dict[str, Any]]:
    """Per purpose, by display name: its state now, whether it may be used, since when,
    through which channel and source, and the evidence of the record in force."""
    latest: dict[int, ConsentRecord] = {}
    for each in consent_history(profile_id):
        latest.setdefault(each.purpose_id, each)  # newest first
    names = {p.key: p for p in Purpose.objects.all()}
    rows = []
    for decision in current_consent(profile_id):
        purpose = names[decision["purpose"]]
        record: ConsentRecord | None = latest.get(purpose.pk)
        rows.append(
            {
                "purpose": purpose.name,
                "key": purpose.key,
                "state": STATE_WORDS.get(decision["state"], str(decision["state"])),
                "allowed": decision["allowed"],
                "by": "a record"
                if decision["state"]
                else f"the purpose's default ({purpose.get_default_display()})",
                "since": record.given_at if record else None,
                "expires": record.expires_at if record else None,
                "channel": record.get_channel_display() if record else "",
                "source": (record.source.name if record and record.source else ""),
                "evidence": evidence_lines(record.evidence) if record else [],
            }
        )
    return rows


def find_people(text: str) -> list[int]:
    """The live profiles an email address, a phone number or a name stands for."""
    text = text.strip()
    if not text:
        return []
    found = [i.profile_id for i in identifiers_with_keys(search_keys(text), limit=SEARCH_LIMIT)]
    words = text.split()
    if words and not any(c.isdigit() or c == "@" for c in text):
        by_name = Q()
        for word in words:
            by_name &= (
                Q(traits__name__icontains=word)
                | Q(traits__first_name__icontains=word)
                | Q(traits__last_name__icontains=word)
            )
        found += list(
            Profile.objects.filter(by_name, merged_into__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:SEARCH_LIMIT]
        )
    return list(dict.fromkeys(active_profile(pk) for pk in found))


# --- An access request's result -----------------------------------------------------

SECTIONS = ("profiles", "identifiers", "touchpoints", "consents", "merges")


def result_tables(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's lists as tables: a title, the columns (every key seen) and rows of
    plain text (nested values as compact JSON)."""
    tables = []
    for name in [*SECTIONS, *sorted(k for k in result if k not in SECTIONS)]:
        items = result.get(name)
        if not isinstance(items, list):
            continue
        columns = list(dict.fromkeys(k for item in items if isinstance(item, dict) for k in item))
        rows = [[_cell(item.get(c)) for c in columns] for item in items if isinstance(item, dict)]
        tables.append(
            {
                "name": name,
                "title": name.replace("_", " ").capitalize(),
                "columns": columns,
                "rows": rows,
            }
        )
    return tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def access_zip(request: DataSubjectRequest) -> bytes:
    """The ZIP a person is sent: result.json (everything) and one CSV per table."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "result.json", json.dumps(request.result, indent=2, ensure_ascii=False, sort_keys=True)
        )
        for table in result_tables(request.result or {}):
            text = io.StringIO()
            writer = csv.writer(text)
            writer.writerow(table["columns"])
            writer.writerows(table["rows"])
            archive.writestr(f"{table['name']}.csv", text.getvalue())
    return buffer.getvalue()


def zip_name(request: DataSubjectRequest, at: datetime | None = None) -> str:
    stamp = (at or request.completed_at or request.requested_at).strftime("%Y-%m-%d")
    return f"{settings.OMNITRAIL_ACCESS_ZIP_PREFIX}-{request.pk}-{stamp}.zip"


def profiles_named(profile_ids: Iterable[int]) -> dict[int, str]:
    return {p.pk: person_name(p) for p in Profile.objects.filter(pk__in=list(profile_ids))}
