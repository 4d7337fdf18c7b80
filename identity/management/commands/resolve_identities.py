from django.core.management.base import BaseCommand

from identity.services.matching import incremental_run
from identity.services.stitching import resolve_pending


class Command(BaseCommand):
    help = (
        "Resolve identities: place every touchpoint not yet resolved on its profile "
        "(stitching on shared identifiers), then match the new records with Splink (a full "
        "run, training the model, when there is none yet). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-match", action="store_true", help="stitching only: skip the Splink run"
        )

    def handle(self, no_match, **options):
        placed = resolve_pending()
        self.stdout.write(f"stitching: {placed} touchpoints resolved")
        if no_match:
            self.stdout.write("matching: skipped (--no-match)")
            return
        run = incremental_run()
        if run.note:
            self.stdout.write(f"matching ({run.mode} run): nothing matched: {run.note}")
            return
        model = run.model
        training = model.training if model else {}
        if model and run.mode == "full" and training:
            self.stdout.write(
                f"matching: model v{model.version} trained on {model.records} records; prior "
                f"{training.get('probability_two_random_records_match', 0):.3g} from "
                f"{training.get('prior_pairs')} pairs the deterministic rules found "
                f"({training.get('strict_rule_pairs')} strict, "
                f"{training.get('looser_rule_pairs')} looser); EM blocked on "
                f"{', '.join(training.get('em_blocked_on', []))}"
            )
        self.stdout.write(
            f"matching ({run.mode} run, model v{model.version if model else '-'}): "
            f"{run.records} records, {run.comparisons} comparisons, {run.pairs_scored} pairs "
            f"above the review threshold, {run.merges} merged, {run.reviews} to review, "
            f"{run.refused} refused by guardrails"
        )
