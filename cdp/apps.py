from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _seed_roles(sender, apps=global_apps, **kwargs):
    from cdp.roles import ensure_roles

    ensure_roles(apps)


class CdpConfig(AppConfig):
    name = "cdp"
    verbose_name = "Omnitrail CDP"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every app's migrate (their permissions arrive one app at a time).
        post_migrate.connect(_seed_roles, dispatch_uid="omnitrail-roles")
