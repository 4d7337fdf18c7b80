import csv
import json

from django.core.management.base import BaseCommand, CommandError

from attribution.engine.models import DEFAULT_GOAL
from attribution.selectors import credit_report, reported_run
from cdp.errors import OmnitrailError

COLUMNS = ["model", "channel", "campaign", "conversions", "revenue", "cost", "roas", "cpa"]


class Command(BaseCommand):
    help = (
        "Print the latest run's credits for a model per channel and campaign: "
        "model,channel,campaign,conversions,revenue,cost,roas,cpa."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--goal", default=DEFAULT_GOAL)
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, model, goal, format, **options):
        try:
            run = reported_run(goal)
        except OmnitrailError as error:
            raise CommandError(f"--{error}") from None  # --goal: ...
        if model not in run.models_run:
            raise CommandError(f"--model: {model!r} is not in run {run.pk} ({run.models_run})")
        rows = credit_report(run, model=model, group_by="campaign")
        if format == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
