import csv

from django.core.management.base import BaseCommand, CommandError

from cdp.models import Source
from identity.selectors import identity_map


class Command(BaseCommand):
    help = (
        "Print, for every key a source sent (record ids of its imports, userIds and "
        "anonymousIds of its events), the profile it now belongs to: "
        "source,external_id,profile_id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True)
        parser.add_argument("--format", choices=["csv"], default="csv")

    def handle(self, source, format, **options):
        found = Source.objects.filter(name=source).first()
        if found is None:
            raise CommandError(f"--source: no source named {source!r}")
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["source", "external_id", "profile_id"])
        for external_id, profile_id in identity_map(found):
            writer.writerow([found.name, external_id, "" if profile_id is None else profile_id])
