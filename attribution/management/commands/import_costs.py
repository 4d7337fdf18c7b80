from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from attribution.services import import_costs


class Command(BaseCommand):
    help = (
        "Import daily ad costs from CSV (date, channel, cost; optionally campaign, source, "
        "medium, currency, impressions, clicks). Bad rows are reported with their line number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, file, **options):
        if not file.exists():
            raise CommandError(f"{file}: no such file")
        summary = import_costs(file)
        for error in summary.errors:
            self.stderr.write(f"{file}: {error}")
        self.stdout.write(
            f"{summary.rows} rows, {summary.stored} stored, {len(summary.errors)} rejected"
        )
        if summary.errors and not summary.stored:
            raise CommandError("nothing imported")
