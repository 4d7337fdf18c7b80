from django.core.management.base import BaseCommand, CommandError

from cdp.models import Source, SourceKind
from cdp.services.sources import create_source


class Command(BaseCommand):
    help = "Create a source; prints its write key alone on the last line (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", required=True, choices=SourceKind.values)
        parser.add_argument("--rate-limit", type=int, default=None, help="events per second")

    def handle(self, name, kind, rate_limit, **options):
        if Source.objects.filter(name=name).exists():
            raise CommandError(f"a source named {name!r} already exists")
        source, write_key = create_source(name, kind=kind, rate_limit=rate_limit)
        self.stderr.write(f"Created source {source.name} ({source.kind}); its write key:")
        self.stdout.write(write_key)
