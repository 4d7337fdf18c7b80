from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import AuthToken


class Command(BaseCommand):
    help = (
        "Create an API token for USERNAME (sent as `Authorization: Bearer TOKEN`); "
        "prints the token alone on the last line. It is stored only hashed."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}; create it first (createsuperuser)")
        _, token = AuthToken.objects.create(user, expiry=None)
        self.stderr.write(f"Token for {username}; its permissions are the user's:")
        self.stdout.write(token)
