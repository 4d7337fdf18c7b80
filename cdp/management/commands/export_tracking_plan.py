import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cdp.tracking_plans.selectors import plan_by_name, plan_document


class Command(BaseCommand):
    help = "Write a tracking plan as its JSON file (what import_tracking_plan reads)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the plan's name")
        parser.add_argument("--output", type=Path, help="a file to write (default: stdout)")

    def handle(self, name, output, **options):
        plan = plan_by_name(name)
        if plan is None:
            raise CommandError(f"no tracking plan named {name!r}")
        text = json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stderr.write(f"Wrote {output}")
