"""CSRF on every POST: each route of the URLconf, posted by a logged-in member without a
CSRF token, is refused with 403 and changes nothing.

The routes come from the live URLconf (tests/security_routes.py), with real objects behind
every id, and the form data is what a forged request would send to do harm. Each case has
a control: the same post *with* the token gets past the CSRF check (and is answered by the
view), so the 403 is the CSRF check and nothing else. A separate test asserts the walk found
the known POST routes, so the suite cannot pass on an empty or shrunken list.
"""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory
from tests.security_routes import FAST_HASHERS, Route, World, routes, snapshot

ROUTES = routes()
# Routes that take no cookies and so need no CSRF token: a cross-site forgery rides on the
# victim's cookies, and these are authorized by a secret in the URL alone (issue 15: an
# incoming webhook; webhooks/tests/test_incoming.py). test_csrf_exempt_routes_... below.
CSRF_EXEMPT = {"webhooks:incoming"}
CSRF_FAILURE = b"CSRF verification failed"

# The POST endpoints that exist today; the walk must find at least these.
KNOWN_POST_ROUTES = {
    "accounts:signup",
    "accounts:login",
    "accounts:logout",
    "accounts:password_change",
    "accounts:profile",
    "kanban:board_create",
    "kanban:board_edit",
    "kanban:board_delete",
    "kanban:board_members",
    "kanban:member_remove",
    "kanban:column_create",
    "kanban:column_rename",
    "kanban:column_move",
    "kanban:column_delete",
    "kanban:task_create",
    "kanban:task_edit",
    "kanban:task_delete",
    "kanban:task_move",
    "messaging:room_create",
    "messaging:room_send",
    "messaging:room_members",
    "messaging:task_comments",
    "messaging:notification_read",
    "messaging:notification_read_all",
    "messaging:notification_dismiss",
    "accounts:notification_preferences",
    # Organizations (issue 9).
    "orgs:create",
    "orgs:rename",
    "orgs:invite",
    "orgs:invitation_revoke",
    "orgs:member_role",
    "orgs:member_remove",
    "orgs:leave",
    "orgs:invite_accept",
}


# Deliberately without CSRF: RFC 8058's one-click unsubscribe is a POST from a mail client,
# with no cookies and no token; a signed token in the URL is its only authority (it can do
# nothing but turn e-mail off). Each must still refuse a forged post: with no valid signed
# token (the route walk fills `token` with an invitation token), nothing changes.
CSRF_EXEMPT_ROUTES = {"accounts:unsubscribe"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """These tests never check a password; the default hasher would make users slow."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def world(db, alice, bob, carol) -> World:
    """alice's board (bob and carol are members) with one of every object."""
    UserFactory(username="mallory")  # someone a forged "add member" post could add
    return World.build(alice, [bob, carol])


def harmful_data(world: World) -> dict:
    """Valid input for every form a route might take: accepted, it would change something."""
    return {
        "name": "forged",
        "description": "forged",
        "title": "forged",
        "content": "forged",
        "message": "forged",
        "username": "mallory",
        "display_name": "forged",
        "email": "forged@example.com",
        "action": "remove",
        "user": world.removable.pk,
        "members": [world.removable.pk],
        "column": world.column.pk,
        "position": 0,
        "direction": "left",
        "priority": "high",
        "role": "admin",
        "old_password": "x",
        "new_password1": "Forged-pass-123",
        "new_password2": "Forged-pass-123",
        "password": "x",
        "password1": "Forged-pass-123",
        "password2": "Forged-pass-123",
    }


def member_client(user) -> tuple[Client, str]:
    """A logged-in client that enforces CSRF like a browser, and its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/accounts/login/")  # renders {% csrf_token %}: sets the csrftoken cookie
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name not in CSRF_EXEMPT], ids=str)
def test_post_without_csrf_token_is_refused(route: Route, world: World):
    client, token = member_client(world.owner)
    url = world.url_for(route)
    data = harmful_data(world)
    before = snapshot()

    if route.name in CSRF_EXEMPT_ROUTES:
        assert client.post(url, data).status_code == 400
        assert snapshot() == before
        return

    refused = client.post(url, data)
    assert refused.status_code == 403, f"{route.name} answered {refused.status_code}"
    assert CSRF_FAILURE in refused.content
    assert snapshot() == before

    # Also refused: a token that is not this session's, in the form or the header.
    assert client.post(url, {**data, "csrfmiddlewaretoken": "x" * 32}).status_code == 403
    assert client.post(url, data, HTTP_X_CSRFTOKEN="y" * 32).status_code == 403
    assert snapshot() == before

    # Control: with the right token the request gets past CSRF to the view.
    allowed = client.post(url, data, HTTP_X_CSRFTOKEN=token)
    assert CSRF_FAILURE not in allowed.content


def test_route_walk_finds_every_known_post_route(world: World):
    """The walk is not empty, and every known POST route is in it and answers POST (a
    valid-token post that is not 405)."""
    client, token = member_client(world.owner)
    names = {route.name for route in ROUTES}
    assert names >= KNOWN_POST_ROUTES, KNOWN_POST_ROUTES - names

    accepts_post = set()
    for route in ROUTES:
        fresh = World.build(world.owner, world.members)  # earlier posts may delete things
        response = client.post(fresh.url_for(route), harmful_data(fresh), HTTP_X_CSRFTOKEN=token)
        if response.status_code != 405:
            accepts_post.add(route.name)
        if route.name == "accounts:logout":
            client, token = member_client(world.owner)
    assert accepts_post >= KNOWN_POST_ROUTES, KNOWN_POST_ROUTES - accepts_post
    assert len(accepts_post) >= len(KNOWN_POST_ROUTES)


def test_csrf_exempt_routes_are_authorized_by_their_secret_alone(world: World):
    """A logged-in member's forged post to an incoming webhook without its secret finds
    nothing (the session counts for nothing there); only the secret posts."""
    from django.urls import reverse

    assert {r.name for r in ROUTES} >= CSRF_EXEMPT
    client, _token = member_client(world.owner)
    before = snapshot()
    for secret in ("forged", world.incoming_secret[:-1] + "x"):
        url = reverse("webhooks:incoming", args=[secret])
        response = client.post(url, '{"text": "forged"}', content_type="application/json")
        assert response.status_code == 404
    assert snapshot() == before
    anonymous = Client(enforce_csrf_checks=True)
    response = anonymous.post(
        world.url_for_name("webhooks:incoming"),
        '{"text": "from CI"}',
        content_type="application/json",
    )
    assert response.status_code == 201
