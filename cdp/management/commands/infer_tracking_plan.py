import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.models import Source
from cdp.tracking_plans.engine.document import MODES, PlanError, plan_summary
from cdp.tracking_plans.services import INFERENCE_LIMIT, propose_plan, save_plan


class Command(BaseCommand):
    help = (
        "Propose a tracking plan from what a source sent in the last days (event names, "
        "property names, observed JSON types); write it for review, or save it."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="the source's name")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--limit", type=int, default=INFERENCE_LIMIT, help="latest events read")
        parser.add_argument("--name", help="the plan's name (default: '<source> (inferred)')")
        parser.add_argument("--output", type=Path, help="a file to write (default: stdout)")
        parser.add_argument("--save", action="store_true", help="save it (the source follows it)")
        parser.add_argument("--mode", choices=MODES, help="with --save: every kind's mode")

    def handle(self, source, days, limit, name, output, save, mode, **options):
        found = Source.objects.filter(name=source).first()
        if found is None:
            raise CommandError(f"source: no source named {source!r}")
        try:
            document = propose_plan(found, days=days, name=name, limit=limit)
            if mode:
                document["modes"] = dict.fromkeys(document["modes"], mode)
            plan = save_plan(document) if save else None
        except PlanError as error:
            raise CommandError(f"--{error.field}: {error.message}") from None
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        elif not save:
            self.stdout.write(text, ending="")
        counts = ", ".join(f"{n} {kind}" for kind, n in plan_summary(document).items() if n)
        if plan is not None:
            self.stdout.write(f"Saved tracking plan {plan.name!r} (id {plan.pk}): {counts}")
        else:
            self.stderr.write(f"Proposed from the last {days} days of {source}: {counts}")
