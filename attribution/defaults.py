"""The goal every install starts with (created after every migrate and flush, see
apps.py): purchases, valued by their revenue."""

from __future__ import annotations

GOALS = [
    {
        "key": "purchase",
        "name": "Purchase",
        "event": "Order Completed",
        "value_property": "revenue",
        "lookback_days": 30,
        "count_repeat": True,
    }
]


def ensure_default_goals(goal_model=None) -> None:
    """Create the default goals that are missing; existing ones are left as staff set them."""
    if goal_model is None:
        from attribution.models import Goal as goal_model
    for goal in GOALS:
        goal_model.objects.get_or_create(key=goal["key"], defaults=goal)
