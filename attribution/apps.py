from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _seed_goals(sender, apps=global_apps, **kwargs):
    # flush sends no `apps`; migrate sends the migrated state's
    from attribution.defaults import ensure_default_goals, ensure_default_rules

    ensure_default_goals(apps.get_model("attribution", "Goal"))
    ensure_default_rules(apps)


class AttributionConfig(AppConfig):
    name = "attribution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate and every flush, as Django does for permissions: the
        # purchase goal is always there.
        post_migrate.connect(_seed_goals, sender=self)
