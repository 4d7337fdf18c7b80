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
        # Ingestion (cdp) reads consent strings, leaves out erased people's events and,
        # after identity, records the consent stored touchpoints carry.
        from cdp import ingest_steps
        from consent.ingest import check_event_consent, record_consents_after_ingest
        from consent.suppression import suppressed_messages

        ingest_steps.register_consent_check(check_event_consent)
        ingest_steps.register_suppression_check(suppressed_messages)
        ingest_steps.register_touchpoint_work(record_consents_after_ingest)
