import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.site.demo.population import generate_population


class Command(BaseCommand):
    help = (
        "Write a seeded synthetic omnichannel population to a folder: web, app and email "
        "events (Segment spec, NDJSON), POS purchases, CRM records, consents, daily ad costs "
        "and the ground truth of who is who (CSV). The same seed writes the same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=200, help="how many people")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--out", type=Path, required=True, help="folder to write into")
        parser.add_argument("--days", type=int, default=90, help="length of the window")
        parser.add_argument(
            "--start",
            type=dt.date.fromisoformat,
            default=None,
            help="first day of the window, YYYY-MM-DD (default: the window ends today)",
        )

    def handle(self, customers, seed, out, days, start, **options):
        try:
            counts = generate_population(customers, seed, out, start=start, days=days)
        except ValueError as error:
            raise CommandError(str(error)) from None
        for name, count in counts.items():
            self.stdout.write(f"{name:<18} {count:>10} rows")
