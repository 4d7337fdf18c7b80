"""Bulk files from CRM and POS systems: CSV or NDJSON, as records or as events."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from cdp.engine.columns import STANDARD_TRAITS, apply_column_mapping, check_column_mapping
from cdp.errors import ImportFileError, InvalidField
from cdp.models import Source
from cdp.services.ingest import IngestResult, Rejection, ingest_batch, record_rejections

# Column spellings of the top-level Segment fields in a flat CSV event row.
EVENT_COLUMNS = {
    "type": "type",
    "event": "event",
    "name": "name",
    "message_id": "messageId",
    "messageid": "messageId",
    "user_id": "userId",
    "userid": "userId",
    "anonymous_id": "anonymousId",
    "anonymousid": "anonymousId",
    "timestamp": "timestamp",
    "previous_id": "previousId",
    "group_id": "groupId",
}
CHUNK = 1000


@dataclass
class ImportSummary:
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Stored rows with a value kept as given but not understood (a date that is none).
    warnings: list[Rejection] = field(default_factory=list)


def _nest(target: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def event_from_row(row: dict[str, str]) -> dict[str, Any]:
    """A flat CSV row as a Segment event: `traits.x` → context.traits, `context.x` → context."""
    event: dict[str, Any] = {"type": "track", "properties": {}, "context": {}}
    for column, value in row.items():
        if column is None or value in (None, ""):
            continue
        key = column.strip()
        top = EVENT_COLUMNS.get(key.lower())
        if top:
            event[top] = value
        elif key.startswith("traits."):
            _nest(event["context"].setdefault("traits", {}), key[len("traits.") :], value)
        elif key.startswith("context."):
            _nest(event["context"], key[len("context.") :], value)
        elif key.startswith("properties."):
            _nest(event["properties"], key[len("properties.") :], value)
        else:
            event["properties"][key] = value
    return event


def record_to_event(record: dict[str, Any], *, id_column: str, source: Source) -> dict[str, Any]:
    """A customer record as an identify carrying the source's own key in externalIds.

    The message id is derived from the record's content, so the same row imported
    again is a duplicate while a changed row is stored as the record's new version.
    """
    record_id = str(record.get(id_column) or "").strip()
    traits = {
        key: value
        for key, value in record.items()
        if key != id_column and key is not None and value not in (None, "")
    }
    ordered = {name: traits.pop(name) for name in STANDARD_TRAITS if name in traits}
    ordered.update(traits)
    digest = hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    event: dict[str, Any] = {
        "type": "identify",
        "messageId": f"record-{source.pk}-{record_id}-{digest}",
        "traits": ordered,
        "context": {
            "externalIds": [
                {"id": record_id, "type": id_column, "collection": "users", "encoding": "none"}
            ]
        },
    }
    if not record_id:
        event.pop("context")  # no key: ingestion rejects it, naming the id column
        event["traits"].pop(id_column, None)
    return event


def _rows(stream: TextIO, file_format: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row), or (line number, ImportFileError) for a bad line."""
    if file_format == "csv":
        reader = csv.DictReader(stream)
        if not reader.fieldnames:
            raise ImportFileError("the file is empty (no header line)")
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                yield start, ImportFileError("more fields than the header has")
            else:
                yield start, row
            start = reader.line_num + 1
        return
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            yield number, orjson.loads(text)
        except orjson.JSONDecodeError as error:
            yield number, ImportFileError(f"invalid JSON ({error})")


def file_format_of(path: Path, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    raise ImportFileError(f"{path.name}: cannot tell the format; use --format csv|ndjson")


def import_file(
    source: Source,
    path: Path,
    *,
    kind: str,
    id_column: str = "id",
    file_format: str | None = None,
    mapping: dict[str, str] | None = None,
) -> ImportSummary:
    """Import a file row by row in chunks; bad rows are kept with their line number.

    Records' columns are renamed by the source's saved column mapping, then by
    `mapping` (file column -> standard trait, which wins); other columns stay custom
    traits. The id column is named as the file names it.
    """
    file_format = file_format_of(path, file_format)
    mapping = _column_mapping(source, mapping, id_column=id_column)
    summary = ImportSummary()
    with path.open(newline="", encoding="utf-8-sig") as stream:
        if kind == "records" and file_format == "csv":
            header = stream.readline()
            if id_column not in next(csv.reader([header]), []):
                raise ImportFileError(f"line 1: the id column {id_column!r} is not in the header")
            stream.seek(0)
        events: list[Any] = []
        lines: list[int] = []
        for line, row in _rows(stream, file_format):
            summary.rows += 1
            if isinstance(row, ImportFileError):
                _reject_line(source, summary, line, row.message, raw=None)
                continue
            if not isinstance(row, dict):
                _reject_line(source, summary, line, "a row must be a JSON object", raw=row)
                continue
            if kind == "records":
                if not str(row.get(id_column) or "").strip():
                    _reject_line(source, summary, line, f"{id_column}: missing", raw=row)
                    continue
                if mapping:
                    row = apply_column_mapping(row, mapping)
                row = record_to_event(row, id_column=id_column, source=source)
            elif file_format == "csv":
                row = event_from_row(row)
            events.append(row)
            lines.append(line)
            if len(events) >= CHUNK:
                _flush(source, events, lines, summary)
                events, lines = [], []
        if events:
            _flush(source, events, lines, summary)
    return summary


def _column_mapping(
    source: Source, given: dict[str, str] | None, *, id_column: str
) -> dict[str, str]:
    """The source's saved column mapping with `given` over it; the id column is kept."""
    try:
        mapping = check_column_mapping(source.column_mapping or {}) | check_column_mapping(
            given or {}, field="map"
        )
    except InvalidField as error:
        raise ImportFileError(str(error)) from None
    mapping.pop(id_column, None)
    return mapping


def _flush(source: Source, events: list, lines: list[int], summary: ImportSummary) -> None:
    result: IngestResult = ingest_batch(
        source, events, channel="import", lines=lines, field_prefix=""
    )
    summary.accepted += result.accepted
    summary.duplicates += result.duplicates
    summary.rejected.extend(result.rejected)
    summary.warnings.extend(result.warnings)


def _reject_line(
    source: Source, summary: ImportSummary, line: int, message: str, *, raw: Any
) -> None:
    rejection = Rejection(index=0, code="invalid_row", field="", message=message, line=line)
    summary.rejected.append(rejection)
    record_rejections(source, [raw], [rejection], channel="import")
