from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _seed_purposes(sender, apps=global_apps, **kwargs):
    # flush sends no `apps`; migrate sends the migrated state's
    from consent.defaults import ensure_default_purposes

    ensure_default_purposes(apps.get_model("consent", "Purpose"))


class ConsentConfig(AppConfig):
    name = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate and every flush, as Django does for permissions: the
        # default purposes are always there.
        post_migrate.connect(_seed_purposes, sender=self)
