from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate


def _seed_goals(sender, apps=global_apps, **kwargs):
    # flush sends no `apps`; migrate sends the migrated state's
    from attribution.defaults import ensure_default_goals, ensure_default_rules

    ensure_default_goals(apps.get_model("attribution", "Goal"))
    ensure_default_rules(apps)


def _reevaluate_after_ingest(source_id: int, message_ids: list[str], with_consent: list[str]):
    """After identity (and consent): the segments of the profiles a batch was placed on
    (they may have entered or left)."""
    from attribution.tasks import reevaluate_touchpoint_profiles

    return reevaluate_touchpoint_profiles.si(source_id, message_ids)


def _personal_data(profile_ids) -> dict:
    """What attribution keeps per person, for an access bundle: segment stays and the
    facts segments read."""
    from attribution.segments.selectors import facts_of_profiles, memberships_of_profiles

    return {
        "segment_memberships": memberships_of_profiles(profile_ids),
        "profile_facts": facts_of_profiles(profile_ids),
    }


def _refresh_after_erasure() -> None:
    """Credits are recomputed without the erased person."""
    from attribution.tasks import refresh_all_goals

    refresh_all_goals.delay()


class AttributionConfig(AppConfig):
    name = "attribution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # After every migrate and every flush, as Django does for permissions: the
        # purchase goal is always there.
        post_migrate.connect(_seed_goals, sender=self)
        # The apps below hand work up through registries (layers point down).
        from cdp import ingest_steps
        from consent import personal_data

        ingest_steps.register_touchpoint_work(_reevaluate_after_ingest)
        personal_data.register_holder(bundle=_personal_data, after_erasure=_refresh_after_erasure)
