"""Time in the window: milliseconds since its start, written as ISO 8601."""

from __future__ import annotations

import datetime as dt

from cdp.site.demo.population.chance import WeightedChoice

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Local hour of day → relative activity.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 10, 9, 6, 3)

PICK_HOUR = WeightedChoice(list(zip(range(24), HOUR_WEIGHTS, strict=True)))


class Clock:
    """Times are milliseconds since the window's start; this turns them into ISO 8601."""

    def __init__(self, start: dt.date, days: int):
        self.days = days
        self.end = days * DAY
        self.dates = [(start + dt.timedelta(days=day)).isoformat() for day in range(days)]
        self.minutes: dict[int, str] = {}  # "2026-08-01T09:15:" by minute: at most days × 1440

    def iso(self, ms: int) -> str:
        minute, rest = divmod(ms, MINUTE)
        prefix = self.minutes.get(minute)
        if prefix is None:
            day, minute_of_day = divmod(minute, 24 * 60)
            hour, minute_of_hour = divmod(minute_of_day, 60)
            prefix = f"{self.dates[day]}T{hour:02d}:{minute_of_hour:02d}:"
            self.minutes[minute] = prefix
        second, milli = divmod(rest, SECOND)
        return f"{prefix}{second:02d}.{milli:03d}Z"
