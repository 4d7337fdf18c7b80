"""The channel rules in force (the admin's, in their order)."""

from __future__ import annotations

from attribution.engine.channels import default_rules


def channel_rules():
    """The compiled channel rules journeys are classified with."""
    return default_rules()
