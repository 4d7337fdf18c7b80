from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_delete, post_migrate, post_save


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
        # A changed or deleted source is forgotten at once by this process's memo of
        # write keys (cdp.services.sources); other processes within its seconds.
        from cdp.models import Source
        from cdp.services.sources import forget_sources

        post_save.connect(forget_sources, sender=Source, dispatch_uid="omnitrail-forget-sources")
        post_delete.connect(
            forget_sources, sender=Source, dispatch_uid="omnitrail-forget-sources-delete"
        )
