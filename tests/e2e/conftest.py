"""Fixtures for the page tests: the demo's population, pushed through every stage."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "pw-Ab12!xyz"


@pytest.fixture
def demo_data(tmp_path):
    """A small demo population run end to end (ingest, identity, consent, attribution,
    segments, exports): what the report pages read. Needs a transactional database."""
    from cdp.site.demo.population import generate_population
    from cdp.site.demo.run import run_demo

    generate_population(40, 3, tmp_path)
    return run_demo(tmp_path, say=lambda line: None)


@pytest.fixture
def make_user(db):
    """A user in the given role groups (cdp.roles), signed in with PASSWORD."""

    def make(username, *groups, staff=False, superuser=False):
        user = get_user_model().objects.create_user(
            username, f"{username}@example.com", PASSWORD, is_staff=staff or superuser
        )
        user.is_superuser = superuser
        user.save()
        user.groups.add(*Group.objects.filter(name__in=groups))
        return user

    return make


def sign_in(page, live_server, user, next_path="/app/"):
    """Sign in through the /app/ login form in the browser."""
    page.goto(f"{live_server.url}/app/login/?next={next_path}")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
