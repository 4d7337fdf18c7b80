from django.apps import AppConfig
from django.core import checks


def _resolve_after_ingest(source_id: int, message_ids: list[str], with_consent: list[str]):
    """Identity resolution of a stored batch: the first of the work after ingestion."""
    from identity.tasks import resolve_new_touchpoints

    return resolve_new_touchpoints.si(source_id, message_ids)


class IdentityConfig(AppConfig):
    name = "identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from cdp import ingest_steps
        from identity.checks import trait_rules

        ingest_steps.register_touchpoint_work(_resolve_after_ingest)
        checks.register(trait_rules)
