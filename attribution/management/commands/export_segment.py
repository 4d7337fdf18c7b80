from django.core.management.base import BaseCommand, CommandError

from attribution.models import Destination
from attribution.segments.destinations import export_segment


class Command(BaseCommand):
    help = "Write a file destination's segments (their consenting members) to new files."

    def add_arguments(self, parser):
        parser.add_argument("--destination", required=True, help="a file destination's name")

    def handle(self, destination, **options):
        found = Destination.objects.filter(name=destination, kind=Destination.Kind.FILE).first()
        if found is None:
            raise CommandError(f"--destination: no file destination {destination!r}")
        for segment in found.segments.all():
            export = export_segment(found, segment)
            self.stdout.write(
                f"{segment.name} -> {export.path}: {export.rows:,} profiles, "
                f"{export.left_out_for_consent:,} left out for consent"
            )
