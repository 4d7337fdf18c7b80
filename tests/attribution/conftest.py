"""Fixtures shared by the attribution tests."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from attribution.segments.services import refresh_segment, save_segment
from cdp.models import Profile

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


@pytest.fixture
def analyst(user_in):
    """A signed-in member of Analysts, for the page tests."""
    return user_in("Analysts", name="ana")


@pytest.fixture
def parisians(db):
    """120 profiles in Paris (and one in Lyon), the segment of those in Paris refreshed."""
    Profile.objects.bulk_create(
        [
            Profile(
                traits={
                    "first_name": f"First{n}",
                    "last_name": f"Last{n}",
                    "email": f"p{n}@example.com",
                    "city": "Paris",
                }
            )
            for n in range(120)
        ]
        + [Profile(traits={"first_name": "Lou", "email": "lou@example.com", "city": "Lyon"})]
    )
    segment = save_segment(
        name="Parisians",
        definition={"trait": "city", "op": "equals", "value": "Paris"},
        description="Who lives in Paris.",
    )
    refresh_segment(segment)
    segment.refresh_from_db()
    return segment


def parse_csv(response) -> list[list[str]]:
    """The rows of a page's CSV download, streamed or not."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))
