"""The goal every install starts with (created after every migrate and flush, see
apps.py): purchases, valued by their revenue."""

from __future__ import annotations

from attribution.engine.models import DEFAULT_GOAL

GOALS = [
    {
        "key": DEFAULT_GOAL,
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


# The funnel out of the box, from the events the Segment e-commerce spec names;
# "page" and "screen" stand for any page or screen view.
FUNNEL_STAGES = [
    ("awareness", ["page", "screen", "Email Opened", "Ad Clicked", "Push Notification Opened"]),
    ("interest", ["Product Viewed", "Product List Viewed", "Email Link Clicked"]),
    ("consideration", ["Product Added", "Cart Viewed", "Checkout Started"]),
    ("decision", ["Order Completed"]),
]


def ensure_default_rules(apps) -> None:
    """While staff have none: the GA4 channel rules and the funnel stages above."""
    from attribution.engine.channels import DEFAULT_RULES

    rule_model = apps.get_model("attribution", "ChannelRule")
    if not rule_model.objects.exists():
        rule_model.objects.bulk_create(
            rule_model(position=10 * (i + 1), channel=rule["channel"], conditions=rule["all"])
            for i, rule in enumerate(DEFAULT_RULES)
        )
    stage_model = apps.get_model("attribution", "FunnelStage")
    if not stage_model.objects.exists():
        stage_model.objects.bulk_create(
            stage_model(position=i, name=name, events=events)
            for i, (name, events) in enumerate(FUNNEL_STAGES)
        )
