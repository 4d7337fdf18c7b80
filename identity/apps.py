from django.apps import AppConfig
from django.core import checks


class IdentityConfig(AppConfig):
    name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from identity.checks import trait_rules

        checks.register(trait_rules)
