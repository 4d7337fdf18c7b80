from django.core.management.base import BaseCommand, CommandError

from attribution.traits.scoring import model_in_words, train_purchase_likelihood


class Command(BaseCommand):
    help = (
        "Train the likelihood-to-purchase-in-30-days model on the stored history, evaluate "
        "it out of time, store it with its AUC and calibration, and score every profile "
        "(the computed trait purchase_30d)."
    )

    def handle(self, **options):
        try:
            stored = train_purchase_likelihood()
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(model_in_words(stored))
