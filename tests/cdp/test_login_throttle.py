"""Wrong passwords lock a username out of both logins (django-axes): the right password
no longer opens the admin or the pages after OMNITRAIL_LOGIN_FAILURE_LIMIT failures."""

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db
PASSWORD = "right-Pw-123!"


@pytest.fixture
def staff():
    return User.objects.create_superuser("ops", "ops@example.com", PASSWORD)


@pytest.mark.parametrize("login", ["/admin/login/", "/app/login/"])
def test_wrong_passwords_lock_the_username_out_then_the_lock_lifts(login, staff):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong = client.post(login, {"username": "ops", "password": "nope"})
        assert wrong.status_code == 200  # the form again, with its error
    locked = client.post(login, {"username": "ops", "password": "nope"})
    assert locked.status_code == 429
    right = client.post(login, {"username": "ops", "password": PASSWORD})
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    # another username from the same address is not locked
    User.objects.create_user("ann", password=PASSWORD, is_staff=True)
    assert client.post(login, {"username": "ann", "password": PASSWORD}).status_code == 302

    from axes.utils import reset

    assert reset(username="ops") == 1  # `manage.py axes_reset_username ops`
    assert Client().post(login, {"username": "ops", "password": PASSWORD}).status_code == 302


def test_a_few_wrong_passwords_then_the_right_one_still_signs_in(staff):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/app/login/", {"username": "ops", "password": "nope"})
    assert client.post("/app/login/", {"username": "ops", "password": PASSWORD}).status_code == 302
