"""Personal access tokens: made over the session (with CSRF) or the page, shown once, stored
as a hash; Bearer authenticates; scopes; revoked, expired and deactivated are 401 at once."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import create_token, revoke_token
from tests.factories import BoardFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice():
    user = UserFactory(username="alice")
    BoardFactory(name="Launch", created_by=user)
    return user


def session_with_csrf(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/accounts/login/")
    return client, client.cookies["csrftoken"].value


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_create_over_the_session_shows_the_token_once_and_stores_a_hash(alice):
    client, csrf = session_with_csrf(alice)
    response = client.post(
        "/api/v1/tokens/",
        {"name": "deploy", "scopes": ["read"], "expires_at": "2099-01-01T00:00:00Z"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "token", "scopes", "expires_at"}
    assert body["name"] == "deploy"
    assert body["scopes"] == ["read"]
    assert body["expires_at"] == "2099-01-01T00:00:00Z"
    secret = body["token"]
    row = ApiToken.objects.get(pk=body["id"])
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=row.pk).values().get())
    listed = client.get("/api/v1/tokens/").json()
    assert [t["name"] for t in listed] == ["deploy"]
    assert secret not in str(listed)
    assert bearer(secret).get("/api/v1/boards/").status_code == 200


def test_create_without_csrf_is_refused(alice):
    client, _csrf = session_with_csrf(alice)
    response = client.post(
        "/api/v1/tokens/", {"name": "x", "scopes": ["read"]}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_a_token_cannot_make_tokens(alice):
    _token, secret = create_token(user=alice, name="script", scopes=["write"])
    response = bearer(secret).post(
        "/api/v1/tokens/", {"name": "more", "scopes": ["write"]}, format="json"
    )
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["admin"]}, "scopes"),
        ({"name": "x", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_token_requests_are_400_with_the_field(alice, body, field):
    client, csrf = session_with_csrf(alice)
    response = client.post(
        "/api/v1/tokens/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 400
    assert field in response.json()


def test_no_credentials_and_a_wrong_token_are_401_with_a_challenge(alice):
    for client in (APIClient(), bearer("tfp_not-a-token"), bearer("garbage")):
        response = client.get("/api/v1/boards/")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "detail" in response.json()


def test_read_token_reads_but_cannot_write(alice):
    _token, secret = create_token(user=alice, name="ro", scopes=["read"])
    client = bearer(secret)
    assert client.get("/api/v1/boards/").status_code == 200
    response = client.post("/api/v1/boards/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert "read scope" in response.json()["detail"]


def test_write_scope_includes_read(alice):
    token, secret = create_token(user=alice, name="rw", scopes=["write"])
    assert token.scopes == ["read", "write"]
    assert bearer(secret).get("/api/v1/boards/").status_code == 200


def test_revoked_token_is_401_on_the_next_request(alice):
    token, secret = create_token(user=alice, name="x", scopes=["read"])
    client = bearer(secret)
    assert client.get("/api/v1/boards/").status_code == 200
    revoke_token(token=token, revoked_by=alice)
    assert client.get("/api/v1/boards/").status_code == 401


def test_deactivated_users_token_is_401_at_once(alice):
    _token, secret = create_token(user=alice, name="x", scopes=["read"])
    client = bearer(secret)
    assert client.get("/api/v1/boards/").status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get("/api/v1/boards/").status_code == 401


def test_expired_token_is_401(alice):
    token, secret = create_token(
        user=alice, name="x", scopes=["read"], expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(secret).get("/api/v1/boards/").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(alice):
    token, secret = create_token(user=alice, name="x", scopes=["read"])
    assert token.last_used_at is None
    client = bearer(secret)
    client.get("/api/v1/boards/")
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/boards/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get("/api/v1/boards/")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(minutes=2)


def test_someone_elses_token_cannot_be_revoked_over_the_api(alice):
    bob = UserFactory(username="bob")
    token, secret = create_token(user=bob, name="bob's", scopes=["read"])
    client, csrf = session_with_csrf(alice)
    response = client.delete(f"/api/v1/tokens/{token.pk}/", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 404
    assert bearer(secret).get("/api/v1/boards/").status_code == 200


def test_revoke_over_the_api(alice):
    token, secret = create_token(user=alice, name="x", scopes=["read"])
    client, csrf = session_with_csrf(alice)
    assert client.delete(f"/api/v1/tokens/{token.pk}/", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert bearer(secret).get("/api/v1/boards/").status_code == 401


# --- the page --------------------------------------------------------------------------------


def test_page_creates_shows_once_lists_and_revokes(alice):
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/accounts/tokens/",
        {"name": "ci", "scopes": ["read", "write"], "expires_on": ""},
        follow=True,
    )
    assert response.redirect_chain == [("/accounts/tokens/", 302)]
    assert response["Cache-Control"] == "no-store"
    secret = response.context["new_token"]
    assert secret.startswith("tfp_")
    assert secret in response.content.decode()
    token = ApiToken.objects.get(user=alice)
    assert token.scopes == ["read", "write"]
    page = client.get("/accounts/tokens/").content.decode()
    assert "ci" in page and token.prefix in page
    assert secret not in page  # shown that once
    assert bearer(secret).get("/api/v1/boards/").status_code == 200
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert "revoked" in client.get("/accounts/tokens/").content.decode()
    assert bearer(secret).get("/api/v1/boards/").status_code == 401


def test_page_refuses_a_token_without_scopes(alice):
    client = Client()
    client.force_login(alice)
    response = client.post("/accounts/tokens/", {"name": "x"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_page_cannot_revoke_someone_elses_token(alice):
    bob = UserFactory(username="bob")
    token, _secret = create_token(user=bob, name="bob's", scopes=["read"])
    client = Client()
    client.force_login(alice)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


def test_page_expiry_date_is_the_end_of_that_day(alice):
    client = Client()
    client.force_login(alice)
    client.post("/accounts/tokens/", {"name": "x", "scopes": ["read"], "expires_on": "2099-05-01"})
    expires = timezone.localtime(ApiToken.objects.get().expires_at)
    assert (expires.year, expires.month, expires.day, expires.hour) == (2099, 5, 2, 0)


def test_staff_revoke_a_token_from_the_admin(alice):
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    token, secret = create_token(user=alice, name="leaked", scopes=["read"])
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/api/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert bearer(secret).get("/api/v1/boards/").status_code == 401
    assert client.get(f"/admin/api/apitoken/{token.pk}/change/").status_code == 200
