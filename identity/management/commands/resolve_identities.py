from django.core.management.base import BaseCommand

from identity.services.stitching import resolve_pending


class Command(BaseCommand):
    help = "Place every touchpoint not yet resolved on its profile (idempotent)."

    def handle(self, **options):
        placed = resolve_pending()
        self.stdout.write(f"{placed} touchpoints resolved")
