"""Sign-up abuse: a per-address rate, an operator switch, and look-alike usernames."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.confusables import lookalike_keys, skeleton
from accounts.forms import LOOKALIKE_MESSAGE, SignUpForm
from accounts.models import User
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-much-better-passphrase-42"
CYRILLIC_A = "\u0430"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_up(client: Client, username: str):
    return client.post(
        reverse("accounts:signup"),
        {"username": username, "email": "", "password1": PASSWORD, "password2": PASSWORD},
    )


# --- rate per IP address ------------------------------------------------------------------


def test_sixth_signup_from_one_address_within_the_hour_is_refused(settings):
    settings.SIGNUP_RATE_LIMIT = "5/h"
    statuses = [
        sign_up(Client(REMOTE_ADDR="203.0.113.9"), f"spam{n}").status_code for n in range(6)
    ]

    assert statuses == [302] * 5 + [429]
    assert User.objects.filter(username__startswith="spam").count() == 5
    page = sign_up(Client(REMOTE_ADDR="203.0.113.9"), "spam7").content.decode()
    assert "Too many new accounts from your network (limit 5 per hour)" in page


def test_another_address_can_still_sign_up(settings):
    settings.SIGNUP_RATE_LIMIT = "2/h"
    for n in range(3):
        sign_up(Client(REMOTE_ADDR="203.0.113.9"), f"spam{n}")

    assert sign_up(Client(REMOTE_ADDR="198.51.100.1"), "newcomer").status_code == 302
    assert User.objects.filter(username="newcomer").exists()


def test_invalid_attempts_do_not_use_up_the_allowance(settings):
    settings.SIGNUP_RATE_LIMIT = "1/h"
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        response = client.post(
            reverse("accounts:signup"),
            {"username": "typo", "password1": PASSWORD, "password2": PASSWORD + "x"},
        )
        assert response.status_code == 200

    assert sign_up(client, "typo").status_code == 302


# --- the operator switch ----------------------------------------------------------------


def test_closed_signup_says_so_and_creates_nobody(client, settings):
    settings.SIGNUP_OPEN = False

    page = client.get(reverse("accounts:signup"))
    response = sign_up(client, "mallory")

    assert page.status_code == 200
    assert "Sign-up is closed" in page.content.decode()
    assert 'name="password1"' not in page.content.decode()
    assert response.status_code == 403
    assert not User.objects.filter(username="mallory").exists()


def test_closed_signup_still_lets_an_invitation_through(settings):
    """The invitation page signs up through the same service, with the invitation."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Invitation

    settings.SIGNUP_OPEN = False
    owner = UserFactory(username="olga")
    organization = OrganizationFactory(owner=owner)
    invitation = Invitation.objects.create(
        organization=organization,
        email="invitee@example.com",
        key="k" * 32,
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=1),
    )
    data = {"username": "invitee", "password1": PASSWORD, "password2": PASSWORD}

    with pytest.raises(ValidationError):
        services.sign_up(form=_valid(SignUpForm(data)))
    user = services.sign_up(form=_valid(SignUpForm(data)), invitation=invitation)

    assert user.username == "invitee" and user.check_password(PASSWORD)
    assert organization.memberships.filter(user=user).exists()


def _valid(form: SignUpForm) -> SignUpForm:
    assert form.is_valid(), form.errors
    return form


# --- look-alike usernames -----------------------------------------------------------------


@pytest.mark.parametrize(
    "lookalike",
    [
        CYRILLIC_A + "lice",  # the outside test's case
        "\u03b1lice",  # Greek alpha
        "a1ice",  # digit one for l
        "ALICE",  # case
        CYRILLIC_A.upper() + "LICE",  # Cyrillic capital A, then case
        "\uff41lice",  # fullwidth a (Django's NFKC makes it "alice")
    ],
)
def test_a_username_that_looks_like_an_existing_one_is_refused(client, lookalike):
    UserFactory(username="alice")

    response = sign_up(client, lookalike)

    assert response.status_code == 200
    errors = response.context["form"].errors["username"]
    assert errors and errors[0] in (LOOKALIKE_MESSAGE, "A user with that username already exists.")
    assert User.objects.count() == 1


@pytest.mark.parametrize("name", ["alicia", "alice2", "bob", "malice", "al", "erin", "dave"])
def test_ordinary_distinct_names_pass(client, name):
    UserFactory(username="alice")
    UserFactory(username="erln")  # "erin" is not confusable with it (i has a dot, l not)

    assert sign_up(client, name).status_code == 302
    assert User.objects.filter(username=name).exists()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (CYRILLIC_A + "lice", "alice", True),
        ("m", "rn", True),
        ("paypa1", "paypal", True),
        ("bob", "bab", False),
        ("erin", "erln", False),
        ("bob.smith", "bob_smith", False),
        ("alice", "alice2", False),
    ],
)
def test_skeleton_pairs(a, b, same):
    assert (not lookalike_keys(a).isdisjoint(lookalike_keys(b))) is same


def test_skeleton_is_idempotent_on_plain_ascii():
    assert skeleton("bob") == "bob" and skeleton(skeleton(CYRILLIC_A + "lice")) == skeleton("alice")
