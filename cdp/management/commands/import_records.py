from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.engine.columns import parse_column_mapping
from cdp.errors import ImportFileError, InvalidField
from cdp.models import Source
from cdp.services.imports import import_file


class Command(BaseCommand):
    help = (
        "Import a CSV or NDJSON file from a CRM or POS system: customer records "
        "(--kind records, keyed by --id-column) or Segment-shaped events (--kind events). "
        "Bad rows are reported with their line number; re-importing stores nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="the source's name")
        parser.add_argument("--kind", required=True, choices=["records", "events"])
        parser.add_argument("--id-column", default="id", help="records: the column of the key")
        parser.add_argument("--format", choices=["csv", "ndjson"], default=None)
        parser.add_argument(
            "--map",
            default="",
            metavar="COLUMN=TRAIT,...",
            help="records: the file's columns for standard traits, e.g. "
            "given_name=first_name,surname=last_name (added to the source's saved mapping)",
        )

    def handle(self, file, source, kind, id_column, format, map, **options):
        try:
            mapping = parse_column_mapping(map, field="--map")
        except InvalidField as error:
            raise CommandError(str(error)) from None
        found = Source.objects.filter(name=source).first()
        if found is None:
            raise CommandError(f"--source: no source named {source!r} (see create_source)")
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            summary = import_file(
                found, file, kind=kind, id_column=id_column, file_format=format, mapping=mapping
            )
        except ImportFileError as error:
            raise CommandError(f"{file}: {error}") from None
        for rejection in summary.rejected:
            self.stderr.write(f"{file}: line {rejection.line}: {rejection.message}")
        for warning in summary.warnings:
            self.stderr.write(f"{file}: line {warning.line}: {warning.message} (row stored)")
        self.stdout.write(
            f"{file.name}: {summary.rows} rows, {summary.accepted} stored, "
            f"{summary.duplicates} already stored, {len(summary.rejected)} rejected"
        )
        if summary.warnings:
            self.stdout.write(f"{len(summary.warnings)} stored rows with a value kept as given")
