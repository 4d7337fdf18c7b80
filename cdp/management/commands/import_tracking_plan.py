from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.tracking_plans.engine.document import PlanError, plan_summary
from cdp.tracking_plans.selectors import plan_document
from cdp.tracking_plans.services import import_plan


class Command(BaseCommand):
    help = (
        "Save a tracking plan from its JSON file (ours, docs/tracking-plans.md, or a "
        "Segment Protocols export)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--replace", action="store_true", help="replace the plan of the same name"
        )
        parser.add_argument(
            "--source",
            action="append",
            dest="sources",
            help="a source to follow the plan (repeat it); replaces the file's sources",
        )

    def handle(self, file, replace, sources, **options):
        try:
            text = file.read_bytes()
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}") from None
        try:
            plan = import_plan(text, replace=replace, sources=sources)
        except PlanError as error:
            raise CommandError(f"{file}: {error}") from None
        document = plan_document(plan)
        counts = ", ".join(f"{n} {kind}" for kind, n in plan_summary(document).items() if n)
        self.stdout.write(
            f"Saved tracking plan {plan.name!r} (id {plan.pk}): {counts or 'no events'}; "
            f"sources: {', '.join(document['sources']) or 'none'}"
        )
