from django.core.management.base import BaseCommand, CommandError

from attribution.services import UnknownModel, refresh_attribution


class Command(BaseCommand):
    help = "Credit the goal's conversions to channels and campaigns with every model (one run)."

    def add_arguments(self, parser):
        parser.add_argument("--goal", default="purchase")
        parser.add_argument("--models", nargs="+", help="default: all")

    def handle(self, goal, models, **options):
        try:
            run = refresh_attribution(goal, models=models)
        except (LookupError, UnknownModel) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"run {run.pk}: {run.journeys} journeys, {run.conversions} conversions worth "
            f"{run.value}, {run.profiles_left_out_for_consent} profiles left out for consent, "
            f"models {', '.join(run.models_run)}"
        )
