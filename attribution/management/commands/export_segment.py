from django.core.management.base import BaseCommand, CommandError

from attribution.models import Destination
from attribution.segments.audiences import PLATFORM_KINDS, send_now

KINDS = (Destination.Kind.FILE, *PLATFORM_KINDS)


class Command(BaseCommand):
    help = (
        "Write a file or ad-platform destination's segments (their consenting members) to "
        "new files: an ad platform gets its full hashed audience the first time, then the "
        "added and removed since the last delivery (--full: the whole audience again)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--destination", required=True, help="a file or ad-platform destination's name"
        )
        parser.add_argument(
            "--full", action="store_true", help="ad platforms: the full audience, not a delta"
        )

    def handle(self, destination, full=False, **options):
        found = Destination.objects.filter(name=destination, kind__in=KINDS).first()
        if found is None:
            raise CommandError(f"--destination: no file or ad-platform destination {destination!r}")
        for segment in found.segments.all():
            self.stdout.write(
                f"{segment.name} -> {found.name}: {send_now(found, segment, full=full)}"
            )
