import csv
import json

from django.core.management.base import BaseCommand, CommandError

from attribution.selectors import credit_report, latest_run

COLUMNS = ["model", "channel", "campaign", "conversions", "revenue", "cost", "roas", "cpa"]


class Command(BaseCommand):
    help = (
        "Print the latest run's credits for a model per channel and campaign: "
        "model,channel,campaign,conversions,revenue,cost,roas,cpa."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--goal", default="purchase")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, model, goal, format, **options):
        run = latest_run(goal)
        if run is None:
            raise CommandError(f"no completed run for goal {goal!r}: run refresh_attribution")
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
