from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from attribution.streams.models import StreamDestination
from attribution.streams.services import replay_range


def moment(option: str, text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option}: {text!r} is not a date or time (2026-11-02T08:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Send a stream destination's events that happened in [--from, --to) once more "
        "(ISO dates or times, UTC unless they say otherwise)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--destination", required=True, help="a stream destination's name")
        parser.add_argument("--from", dest="start", required=True, help="included")
        parser.add_argument("--to", dest="end", required=True, help="excluded")

    def handle(self, destination, start, end, **options):
        found = StreamDestination.objects.filter(name=destination).first()
        if found is None:
            raise CommandError(f"--destination: no stream destination {destination!r}")
        begin, finish = moment("--from", start), moment("--to", end)
        if finish <= begin:
            raise CommandError("--to: must be after --from")
        batches = replay_range(found, begin, finish)
        self.stdout.write(
            f"{found.name}: {sum(b.events for b in batches):,} events queued again "
            f"in {len(batches):,} batches"
        )
