from django.core.management.base import BaseCommand, CommandError

from attribution.engine.models import DEFAULT_GOAL
from attribution.services import refresh_attribution
from cdp.errors import OmnitrailError


class Command(BaseCommand):
    help = "Credit the goal's conversions to channels and campaigns with every model (one run)."

    def add_arguments(self, parser):
        parser.add_argument("--goal", default=DEFAULT_GOAL)
        parser.add_argument("--models", nargs="+", help="default: all")

    def handle(self, goal, models, **options):
        try:
            run = refresh_attribution(goal, models=models)
        except OmnitrailError as error:  # the field is the option: --goal, --models
            raise CommandError(f"--{error}" if error.field else str(error)) from None
        self.stdout.write(
            f"run {run.pk}: {run.journeys} journeys, {run.conversions} conversions worth "
            f"{run.value}, {run.profiles_left_out_for_consent} profiles left out for consent, "
            f"models {', '.join(run.models_run)}"
        )
