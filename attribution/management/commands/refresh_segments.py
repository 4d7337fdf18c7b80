import time

from django.core.management.base import BaseCommand, CommandError

from attribution.models import Segment
from attribution.segments.services import (
    create_from_template,
    create_persona_segments,
    refresh_facts,
    refresh_segments,
)


class Command(BaseCommand):
    help = (
        "Recompute profile facts, then every active segment's members (or one segment's), "
        "recording who entered and who left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--segment", help="a segment's name or id (default: all active)")
        parser.add_argument(
            "--no-facts", action="store_true", help="keep the profile facts as they are"
        )
        parser.add_argument(
            "--templates",
            action="store_true",
            help="first create the built-in template segments (RFM, cart abandoners, lapsed "
            "customers, one-channel buyers, one per persona) that do not exist yet",
        )

    def handle(self, segment, no_facts, templates, **options):
        chosen = None
        if segment:
            found = Segment.objects.filter(name=segment)
            if segment.isdigit():
                found = found | Segment.objects.filter(pk=int(segment))
            chosen = list(found)
            if not chosen:
                raise CommandError(f"--segment: no segment {segment!r}")
        if not no_facts:
            started = time.perf_counter()
            count = refresh_facts()
            self.stdout.write(
                f"facts of {count:,} profiles in {time.perf_counter() - started:.1f} s"
            )
        if templates:
            from attribution.segments.rules import TEMPLATES

            for key in TEMPLATES:
                create_from_template(key)
            create_persona_segments()
        for result in refresh_segments(chosen):
            self.stdout.write(
                f"{result.segment}: {result.size:,} members ({result.entered:,} entered, "
                f"{result.exited:,} left, {result.left_out_for_consent:,} left out for consent) "
                f"in {result.seconds:.2f} s"
            )
