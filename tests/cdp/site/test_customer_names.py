"""Customers are found by name, and their 360° page is titled with it."""

import pytest

from cdp.models import Profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def arjun(deliver):
    deliver(
        {
            "type": "identify",
            "userId": "ar-9",
            "traits": {"email": "ar@example.com", "first_name": "Arjun", "last_name": "Ramirez"},
        },
        {
            "type": "identify",
            "userId": "bo-1",
            "traits": {"first_name": "Arjun", "last_name": "Bose"},
        },
    )
    return Profile.objects.get(merged_into__isnull=True, traits__last_name="Ramirez")


@pytest.mark.parametrize("query", ["Arjun Ramirez", "ramirez", "ARJUN ramirez"])
def test_a_customer_is_found_by_name(user_in, arjun, query):
    response = user_in("Customer care").get("/app/profiles/", {"q": query})
    assert response.status_code == 200
    rows = response.context["tables"]["results"].rows
    assert [(row[0], row[1], row[3]) for row in rows] == [
        (f"Profile {arjun.pk}", "name", "Arjun Ramirez")
    ]


def test_the_360_page_is_titled_with_the_persons_name(user_in, arjun):
    page = user_in("Customer care").get(f"/app/profiles/{arjun.pk}/")
    assert page.status_code == 200
    assert "<title>Arjun Ramirez" in page.content.decode()
