"""Attribution: channels, goals, journeys, models, segments (to come)."""
