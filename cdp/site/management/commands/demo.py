import tempfile
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from cdp.models import Source
from cdp.site.demo.population import generate_population
from cdp.site.demo.report import print_report
from cdp.site.demo.run import HTTP_FILES, run_demo


class Command(BaseCommand):
    help = (
        "The main job: migrate, generate a seeded omnichannel population, push it through "
        "the ingestion code paths and print what was stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--reset", action="store_true", help="empty the database first")

    def handle(self, customers, seed, reset, **options):
        say = self.stdout.write
        call_command("migrate", verbosity=0)
        if reset:
            call_command("flush", interactive=False, verbosity=0)
        elif Source.objects.filter(name__in=[name for name, _, _ in HTTP_FILES]).exists():
            raise CommandError(
                "this database already holds the demo's sources; run it again with --reset "
                "(which empties the database first)"
            )
        with tempfile.TemporaryDirectory(prefix="omnitrail-demo-") as folder:
            data_dir = Path(folder)
            counts = generate_population(customers, seed, data_dir)
            say(f"Generated {customers} customers (seed {seed}):")
            for name, count in counts.items():
                say(f"  {name:<24} {count}")
            report = run_demo(data_dir, say=say)
        print_report(report, say=say)
