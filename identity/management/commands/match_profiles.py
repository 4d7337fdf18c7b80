from django.core.management.base import BaseCommand

from identity.services.matching import full_run, incremental_run


class Command(BaseCommand):
    help = (
        "Probabilistic matching with Splink: --full trains if needed (or --retrain), scores "
        "all pairs, merges and queues reviews; without it, an incremental run matches new "
        "and changed profiles against the rest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true")
        parser.add_argument("--retrain", action="store_true", help="with --full: train anew")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="hand the run to a Celery worker instead of running it here",
        )

    def handle(self, full, retrain, queue, **options):
        if queue:
            from identity.tasks import match_profiles_full, match_profiles_incremental

            task = (
                match_profiles_full.delay(retrain=retrain)
                if full or retrain
                else match_profiles_incremental.delay()
            )
            self.stdout.write(f"queued {task.id}")
            return
        run = full_run(retrain=retrain) if full or retrain else incremental_run()
        if run.note:
            self.stdout.write(f"{run.mode} run matched nothing: {run.note}")
            return
        version = run.model.version if run.model else "-"
        self.stdout.write(
            f"{run.mode} run with model v{version}: {run.records} records, "
            f"{run.pairs_scored} pairs scored, {run.merges} merged, {run.reviews} to review, "
            f"{run.refused} refused by guardrails"
        )
