"""The channel rules in force: the admin's active rules in their order (the GA4
defaults until staff change them)."""

from __future__ import annotations

from attribution.engine.channels import compile_rules, default_rules


def channel_rules():
    """The compiled channel rules journeys are classified with."""
    from attribution.models import ChannelRule

    stored = list(ChannelRule.objects.filter(active=True).values_list("channel", "conditions"))
    if not stored:
        return default_rules()
    return compile_rules(
        [{"channel": channel, "all": conditions} for channel, conditions in stored]
    )
