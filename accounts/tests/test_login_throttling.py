"""Log-in throttling (django-axes) on /accounts/login/ and /admin/login/.

After LOGIN_FAILURE_LIMIT (10) failures for one IP address and username the log-in page
says to wait, even for the right password; a success resets the count; and the same
account from another address is unaffected, so a stranger cannot lock the real user out.
Through the HTTP client with REMOTE_ADDR set, as requests from different machines.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 10
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"
WAIT_TEXT = "Too many failed log-ins"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def dave(db):
    return UserFactory(username="dave")


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def log_in(client: Client, username: str, password: str, *, admin: bool = False):
    url = reverse("admin:login") if admin else reverse("accounts:login")
    return client.post(url, {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def fail(client: Client, username: str, times: int, *, admin: bool = False) -> list[int]:
    return [
        log_in(client, username, "not-the-password", admin=admin).status_code for _ in range(times)
    ]


def test_ten_failures_lock_the_pair_and_the_page_says_to_wait(dave):
    attacker = Client(REMOTE_ADDR=ATTACKER)

    statuses = fail(attacker, "dave", LIMIT)
    assert statuses[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form, "wrong password"
    assert statuses[-1] == 429

    response = log_in(attacker, "dave", PASSWORD)  # even the right password now
    assert response.status_code == 429
    assert not logged_in(attacker)
    page = response.content.decode()
    assert WAIT_TEXT in page and "Wait 15 minutes" in page
    assert 'name="password"' in page  # the log-in page itself, not a bare error page


def test_nine_failures_do_not_lock(dave):
    owner = Client(REMOTE_ADDR=OWNER)
    fail(owner, "dave", LIMIT - 1)

    assert log_in(owner, "dave", PASSWORD).status_code == 302
    assert logged_in(owner)


def test_a_stranger_cannot_lock_the_owner_out_from_elsewhere(dave):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    fail(attacker, "dave", LIMIT + 5)
    assert log_in(attacker, "dave", PASSWORD).status_code == 429

    owner = Client(REMOTE_ADDR=OWNER)
    response = log_in(owner, "dave", PASSWORD)

    assert response.status_code == 302 and logged_in(owner)


def test_the_lock_is_per_username_not_per_address(dave):
    """The same address can still log in as someone else (a shared office NAT)."""
    UserFactory(username="erin")
    shared = Client(REMOTE_ADDR=ATTACKER)
    fail(shared, "dave", LIMIT)

    assert log_in(shared, "erin", PASSWORD).status_code == 302


def test_a_success_resets_the_count(dave):
    owner = Client(REMOTE_ADDR=OWNER)
    fail(owner, "dave", LIMIT - 1)
    assert log_in(owner, "dave", PASSWORD).status_code == 302
    owner.post(reverse("accounts:logout"))

    # Nine more failures: had the first nine still counted, the pair would be locked.
    assert 429 not in fail(owner, "dave", LIMIT - 1)
    assert log_in(owner, "dave", PASSWORD).status_code == 302


def test_the_lock_ends_after_the_cool_off(dave, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    client = Client(REMOTE_ADDR=ATTACKER)
    fail(client, "dave", LIMIT)
    assert log_in(client, "dave", PASSWORD).status_code == 429

    # Attempts during the lock-out do not extend it: keep trying until it lifts.
    deadline = time.monotonic() + 10
    while log_in(client, "dave", PASSWORD).status_code == 429:
        assert time.monotonic() < deadline, "still locked out long after the cool-off"
    assert logged_in(client)


def test_admin_login_is_throttled_too(root):
    """The outside test: 30 wrong passwords for the superuser, then the right one."""
    attacker = Client(REMOTE_ADDR=ATTACKER)

    statuses = fail(attacker, "root", 30, admin=True)
    response = log_in(attacker, "root", PASSWORD, admin=True)

    assert statuses.count(429) == 30 - LIMIT + 1
    assert response.status_code == 429
    assert not logged_in(attacker)
    page = response.content.decode()
    assert WAIT_TEXT in page and 'class="errornote"' in page  # the admin's own log-in page
    assert attacker.get(reverse("admin:index")).status_code == 302  # still sent to log in

    admin_elsewhere = Client(REMOTE_ADDR=OWNER)
    assert log_in(admin_elsewhere, "root", PASSWORD, admin=True).status_code == 302
    assert admin_elsewhere.get(reverse("admin:index")).status_code == 200


def test_force_login_and_login_with_a_request_still_work(client, dave):
    """Test clients: force_login skips authentication; login() needs a request for axes."""
    from django.http import HttpRequest

    client.force_login(dave)
    assert logged_in(client)
    other = Client()
    assert other.login(request=HttpRequest(), username="dave", password=PASSWORD)
