"""Taking access away closes the user's open sockets within seconds (real daphne).

Each test opens bob's sockets over real WebSockets, then takes his access away through the
interface a person would use (an HTTP POST to the live server: the board creator removes
him, the room creator removes him, an admin deactivates him, he logs out), and measures how
long each affected socket takes to close with 4403. Sockets that keep their access must stay
open. A last test shows authorization is re-checked on every frame, not only on a signal.

The channel layer is in memory inside daphne here, so the triggers must run inside daphne
(HTTP requests); the services-tier test does the same with the Redis layer and a change made
from another process (`manage.py deactivate_user`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from websockets.exceptions import InvalidStatus

from kanban import services as kanban_services
from messaging.consumers.base import ACCESS_GONE
from messaging.models import ChatMessage
from tests.clients import (
    LiveSession,
    Workspace,
    recv_json,
    still_open,
    wait_closed,
)
from tests.factories import PASSWORD
from tests.live import ROOT, DaphneServer, database_url_for

REVOCATION_DEADLINE = 5.0  # seconds


@pytest.fixture
def team(live_daphne, transactional_db, alice, bob):
    """alice's board with bob in it (and in its room); both logged in over HTTP; bob's three
    sockets open and serving him."""
    workspace = Workspace.create(alice, members=[bob])
    alice_http = LiveSession(live_daphne).log_in("alice")
    bob_http = LiveSession(live_daphne).log_in("bob")
    sockets = {name: bob_http.socket(path) for name, path in workspace.socket_paths().items()}
    assert recv_json(sockets["notifications"], type_="unread_count")["count"] == 0
    yield workspace, alice_http, bob_http, sockets
    for ws in sockets.values():
        ws.close()


def assert_closed_in_time(ws, label: str, *, since: float) -> float:
    """The socket closes with ACCESS_GONE within REVOCATION_DEADLINE of `since` (the
    monotonic time just before the trigger was sent). Prints the measured time."""
    _, code = wait_closed(ws, timeout=REVOCATION_DEADLINE)
    elapsed = time.monotonic() - since
    print(f"\n{label}: closed with {code} {elapsed:.3f} s after the trigger was sent")
    assert code == ACCESS_GONE
    assert elapsed < REVOCATION_DEADLINE
    return elapsed


def test_board_member_removal_closes_board_sockets(team, bob):
    workspace, alice_http, _, sockets = team
    started = time.monotonic()
    status = alice_http.post(f"/boards/{workspace.board.pk}/members/{bob.pk}/remove/")
    assert status == 302

    assert_closed_in_time(sockets["chat-room"], "board removal: chat-room", since=started)
    assert_closed_in_time(sockets["task-comments"], "board removal: task-comments", since=started)
    # bob is still a TaskFlow user: his notification socket keeps working.
    assert still_open(sockets["notifications"])


def test_room_member_removal_closes_room_socket_only(team, bob):
    workspace, alice_http, _, sockets = team
    started = time.monotonic()
    status = alice_http.post(
        f"/messaging/room/{workspace.room.pk}/members/", {"action": "remove", "user": bob.pk}
    )
    assert status == 302
    workspace.room.refresh_from_db()
    assert not workspace.room.members.filter(pk=bob.pk).exists()

    assert_closed_in_time(sockets["chat-room"], "room removal: chat-room", since=started)
    assert still_open(sockets["task-comments"])
    assert still_open(sockets["notifications"], for_seconds=0.2)


def test_deactivation_in_admin_closes_every_socket(team, alice, bob):
    _, alice_http, _, sockets = team
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])

    started = time.monotonic()
    status = alice_http.post(
        "/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [bob.pk]}
    )
    assert status == 302
    bob.refresh_from_db()
    assert bob.is_active is False

    for name, ws in sockets.items():
        assert_closed_in_time(ws, f"admin deactivation: {name}", since=started)


def test_logout_closes_the_sockets_of_that_session_only(team, live_daphne, bob):
    workspace, _, bob_http, sockets = team
    # bob is also logged in on a second device; that session must survive.
    phone = LiveSession(live_daphne).log_in("bob")
    phone_ws = phone.socket(workspace.socket_paths()["chat-room"])

    started = time.monotonic()
    status = bob_http.post("/accounts/logout/")
    assert status == 302

    for name, ws in sockets.items():
        assert_closed_in_time(ws, f"logout: {name}", since=started)
    assert still_open(phone_ws)
    phone_ws.close()


def test_password_change_closes_sockets_of_every_older_session(team, live_daphne, bob):
    """bob changes his password: a session stolen earlier (here: his second login) loses its
    live sockets at once. So do the sockets of the session he changed it in: Django gives
    that session a new key (update_session_auth_hash cycles it), so sockets holding the old
    key fail the re-check too; his browser keeps its login and new sockets work at once."""
    workspace, _, bob_http, sockets = team
    stolen = LiveSession(live_daphne).log_in("bob")
    stolen_sockets = {name: stolen.socket(path) for name, path in workspace.socket_paths().items()}
    recv_json(stolen_sockets["notifications"], type_="unread_count")

    status = bob_http.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "A-new-long-passphrase-42",
            "new_password2": "A-new-long-passphrase-42",
        },
    )
    # Timed from the response: the request itself spends ~1-2 s hashing two passwords.
    started = time.monotonic()
    assert status == 302

    for name, ws in stolen_sockets.items():
        assert_closed_in_time(
            ws, f"password change, timed from its response: {name} (other session)", since=started
        )
    for name, ws in sockets.items():
        assert_closed_in_time(
            ws,
            f"password change, timed from its response: {name} (own session, old key)",
            since=started,
        )

    with bob_http.socket(workspace.socket_paths()["notifications"]) as fresh:
        assert recv_json(fresh, type_="unread_count")["count"] == 0
    with pytest.raises(InvalidStatus):
        stolen.socket(workspace.socket_paths()["notifications"])


def test_every_frame_is_authorized_even_without_a_signal(team, bob):
    """Membership changed behind the server's back (here: by this test process, whose
    signal cannot reach daphne's in-memory layer): the next frame is refused, nothing is
    saved, and the socket closes."""
    workspace, _, _, sockets = team
    kanban_services.remove_member(
        board=workspace.board, user=bob, removed_by=workspace.board.created_by
    )
    ws = sockets["chat-room"]
    assert still_open(ws, for_seconds=0.5), "no signal should have reached daphne"

    ws.send(json.dumps({"type": "chat_message", "message": "sneaky", "client_id": "x1"}))
    error = recv_json(ws, type_="error")
    assert error.get("code") == "access_gone"
    _, code = wait_closed(ws)
    assert code == ACCESS_GONE
    assert not ChatMessage.objects.filter(content="sneaky").exists()


@pytest.mark.services
def test_deactivate_command_closes_sockets_through_redis(
    redis_url, django_db_setup, transactional_db, alice, bob
):
    """Scaled mode: daphne and the command share the Redis layer, so a deactivation from
    another process (`manage.py deactivate_user`) reaches bob's sockets."""
    from django.db import connection

    workspace = Workspace.create(alice, members=[bob])
    database_url = database_url_for(connection.settings_dict)
    with DaphneServer(database_url=database_url, redis_url=redis_url) as server:
        bob_http = LiveSession(server).log_in("bob")
        sockets = {name: bob_http.socket(path) for name, path in workspace.socket_paths().items()}
        recv_json(sockets["notifications"], type_="unread_count")

        env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_TASK_ALWAYS_EAGER": "1",
        }
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "manage.py", "deactivate_user", "bob"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        print(f"\ncommand ran in {time.monotonic() - started:.3f} s")
        for name, ws in sockets.items():
            assert_closed_in_time(ws, f"deactivate_user command: {name}", since=started)
