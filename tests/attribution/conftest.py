"""Fixtures shared by the attribution tests."""

from datetime import UTC, datetime, timedelta

import pytest

BUY = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


def at(days: float) -> str:
    return (BUY - timedelta(days=days)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def shoppers(deliver):
    """Ann: paid search then email, buys for 120. Bob: display, buys for 30. Cy browses."""
    search = {"campaign": {"source": "google", "medium": "cpc", "name": "brand"}}
    display = {"campaign": {"source": "gdn", "medium": "display", "name": "retarget"}}
    email = {"campaign": {"source": "newsletter", "medium": "email", "name": "autumn"}}
    for user, visits, value in (
        ("ann", [(5, search), (2, email)], 120),
        ("bob", [(3, display)], 30),
        ("cy", [(1, display)], None),
    ):
        for days, context in visits:
            deliver({"type": "page", "userId": user, "timestamp": at(days), "context": context})
        if value:
            deliver(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": user,
                    "timestamp": at(0),
                    "properties": {"revenue": value},
                }
            )
