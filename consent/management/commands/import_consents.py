from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.models import Source
from consent.services import import_consents


class Command(BaseCommand):
    help = (
        "Import consent from a CSV file: who (identifier as kind:value, or user_id, email, "
        "phone, crm_id, loyalty_id columns), purpose, status, given_at or timestamp, "
        "optionally expires_at. Bad rows are reported with their line number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", required=True, help="the source the file came from")

    def handle(self, file, source, **options):
        try:
            source = Source.objects.get(name=source)
        except Source.DoesNotExist:
            raise CommandError(f"--source: no source named {source!r}") from None
        if not file.exists():
            raise CommandError(f"{file}: no such file")
        summary = import_consents(source, file)
        for error in summary.errors:
            self.stderr.write(f"{file}: {error}")
        self.stdout.write(
            f"{summary.rows} rows, {summary.recorded} consent records stored, "
            f"{len(summary.errors)} rejected"
        )
        if summary.errors and not summary.recorded:
            raise CommandError("nothing imported")
