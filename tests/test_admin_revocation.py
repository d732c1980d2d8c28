"""Every admin path that ends someone's access closes their open sockets (real daphne), as
the app's own pages do: removing a room or board member on the admin's change form, deleting
a room or a board, resetting a password, deleting the user (alone or with the changelist's
bulk action); and, in the app, removing someone from the organization.

The channel layer is in memory inside daphne, so every trigger is an HTTP request to it.
"""

from __future__ import annotations

import re
import time

import pytest

from accounts.models import Membership
from messaging.consumers.base import ACCESS_GONE
from tests.admin_forms import change_form_data
from tests.clients import (
    LiveSession,
    Workspace,
    recv_json,
    still_open,
    wait_closed,
)
from tests.live import DaphneServer, database_url_for

# The bar for the admin's room-member removal: the socket is closed within a second.
ADMIN_REMOVAL_DEADLINE = 1.0
REVOCATION_DEADLINE = 5.0


@pytest.fixture
def admin_daphne(transactional_db):
    """A daphne of this test's own. The admin writes LogEntry rows with a content type id that
    daphne caches, and every transactional test's flush re-creates the content types with new
    ids: a server shared with earlier tests would log against a row that no longer exists."""
    from django.db import connection

    server = DaphneServer(database_url=database_url_for(connection.settings_dict)).start()
    yield server
    server.stop()


@pytest.fixture
def team(admin_daphne, alice, bob):
    """alice (staff) owns the board and room; bob is in both, with his three sockets open."""
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])
    workspace = Workspace.create(alice, members=[bob])
    alice_http = LiveSession(admin_daphne).log_in("alice")
    bob_http = LiveSession(admin_daphne).log_in("bob")
    sockets = {name: bob_http.socket(path) for name, path in workspace.socket_paths().items()}
    assert recv_json(sockets["notifications"], type_="unread_count")["count"] == 0
    yield workspace, alice_http, sockets
    for ws in sockets.values():
        ws.close()


def closes_within(ws, deadline: float, label: str, *, since: float) -> float:
    _, code = wait_closed(ws, timeout=REVOCATION_DEADLINE)
    elapsed = time.monotonic() - since
    print(f"\n{label}: closed with {code} {elapsed:.3f} s after the trigger was sent")
    assert code == ACCESS_GONE
    assert elapsed < deadline
    return elapsed


def admin_change(session: LiveSession, path: str, **changes) -> int:
    status, _, html = session.request(path)
    assert status == 200, f"GET {path} -> {status}"
    return session.post(path, change_form_data(html.decode(), **changes))


def test_removing_a_room_member_in_the_admin_closes_their_room_socket(team, alice, bob):
    workspace, alice_http, sockets = team
    path = f"/admin/messaging/chatroom/{workspace.room.pk}/change/"
    _, _, html = alice_http.request(path)
    data = change_form_data(html.decode(), members=[alice.pk])

    started = time.monotonic()
    assert alice_http.post(path, data) == 302

    closes_within(sockets["chat-room"], ADMIN_REMOVAL_DEADLINE, "admin room removal", since=started)
    assert not workspace.room.members.filter(pk=bob.pk).exists()
    assert still_open(sockets["task-comments"], for_seconds=0.2)


def test_removing_a_board_member_in_the_admin_closes_their_board_sockets(team, alice, bob):
    workspace, alice_http, sockets = team
    started = time.monotonic()
    status = admin_change(
        alice_http, f"/admin/kanban/board/{workspace.board.pk}/change/", members=[alice.pk]
    )
    assert status == 302
    for name in ("chat-room", "task-comments"):
        closes_within(
            sockets[name], REVOCATION_DEADLINE, f"admin board removal: {name}", since=started
        )
    assert still_open(sockets["notifications"], for_seconds=0.2)


def test_deleting_a_room_in_the_admin_closes_its_sockets(team):
    workspace, alice_http, sockets = team
    started = time.monotonic()
    path = f"/admin/messaging/chatroom/{workspace.room.pk}/delete/"
    assert alice_http.post(path, {"post": "yes"}) == 302

    closes_within(sockets["chat-room"], REVOCATION_DEADLINE, "admin room delete", since=started)
    assert still_open(sockets["task-comments"], for_seconds=0.2)


def test_deleting_a_board_in_the_admin_closes_its_sockets(team):
    workspace, alice_http, sockets = team
    started = time.monotonic()
    path = f"/admin/kanban/board/{workspace.board.pk}/delete/"
    assert alice_http.post(path, {"post": "yes"}) == 302

    for name in ("chat-room", "task-comments"):
        closes_within(
            sockets[name], REVOCATION_DEADLINE, f"admin board delete: {name}", since=started
        )
    assert still_open(sockets["notifications"], for_seconds=0.2)


def test_an_admin_password_reset_closes_every_socket_of_the_user(team, bob):
    _, alice_http, sockets = team
    path = f"/admin/accounts/user/{bob.pk}/password/"
    status, _, html = alice_http.request(path)
    assert status == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html.decode()).group(1)
    started = time.monotonic()
    status = alice_http.post(
        path,
        {
            "csrfmiddlewaretoken": token,
            "usable_password": "true",
            "password1": "A-new-secret-4711",
            "password2": "A-new-secret-4711",
        },
    )
    assert status == 302
    bob.refresh_from_db()
    assert bob.check_password("A-new-secret-4711")
    for name, ws in sockets.items():
        closes_within(ws, REVOCATION_DEADLINE, f"admin password reset: {name}", since=started)


def test_deleting_a_user_in_the_admin_closes_every_socket_of_theirs(team, bob):
    _, alice_http, sockets = team
    started = time.monotonic()
    status = alice_http.post(f"/admin/accounts/user/{bob.pk}/delete/", {"post": "yes"})
    assert status == 302
    for name, ws in sockets.items():
        closes_within(ws, REVOCATION_DEADLINE, f"admin user delete: {name}", since=started)


def test_bulk_deleting_users_in_the_admin_closes_every_socket_of_theirs(team, bob):
    """The changelist's "Delete selected users" action (delete_queryset), not the one-user
    delete page."""
    _, alice_http, sockets = team
    started = time.monotonic()
    status = alice_http.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [bob.pk], "post": "yes"},
    )
    assert status == 302
    for name, ws in sockets.items():
        closes_within(ws, REVOCATION_DEADLINE, f"admin bulk user delete: {name}", since=started)


def test_removing_someone_from_the_organization_closes_their_sockets_there(team, alice, bob):
    workspace, alice_http, sockets = team
    org = workspace.board.organization
    assert Membership.objects.get(organization=org, user=bob).role == "member"
    started = time.monotonic()
    status = alice_http.post(f"/orgs/{org.slug}/members/{bob.pk}/remove/")
    assert status == 302
    for name in ("chat-room", "task-comments"):
        closes_within(sockets[name], REVOCATION_DEADLINE, f"org removal: {name}", since=started)
    assert not workspace.board.members.filter(pk=bob.pk).exists()
    assert not workspace.room.members.filter(pk=bob.pk).exists()
    assert still_open(sockets["notifications"], for_seconds=0.2)
