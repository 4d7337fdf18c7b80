"""Checks Django runs at startup (`manage.py check`, runserver, migrate, every command):
settings that would otherwise fail silently later."""

from django.conf import settings
from django.core.checks import Error

from identity.engine.golden import rule_problems


def trait_rules(app_configs, **kwargs) -> list[Error]:
    """OMNITRAIL_TRAIT_RULES names only rules the golden record knows."""
    return [
        Error(
            f"OMNITRAIL_TRAIT_RULES: {problem}",
            hint="Each trait (or '*') takes most_recent, most_frequent or source_priority.",
            id="identity.E001",
        )
        for problem in rule_problems(settings.OMNITRAIL_TRAIT_RULES)
    ]
