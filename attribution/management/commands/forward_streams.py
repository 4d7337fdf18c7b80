from django.core.management.base import BaseCommand

from attribution.streams.services import forward_all


class Command(BaseCommand):
    help = "Forward every stream destination's new touchpoints now (the beat does it every minute)."

    def handle(self, **options):
        self.stdout.write(f"{forward_all():,} batches made")
