"""Every API endpoint, called by every role (api/tests/conftest.py): the status the issue
requires, and for the writes that succeed, the change they made; for the refused ones, no
change at all.

401 no or bad credentials (a revoked token), 403 allowed to read but not to change (a read
token writing, a member editing someone else's message or renaming the board), 404 cannot
read (a stranger, another organization: never 403, existence is not leaked)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.security_routes import snapshot

from .conftest import ROLES, Cast

READ = {
    "author": 200,
    "moderator": 200,
    "member": 200,
    "stranger": 404,
    "other_org": 404,
    "read_token": 200,
    "revoked_token": 401,
}
OWN = {**READ, "moderator": 404, "member": 404}  # the author's own (notifications)
EVERYONE = dict.fromkeys(ROLES, 200) | {"revoked_token": 401}


def write(ok: int, **overrides: int) -> dict[str, int]:
    """A write the board's or room's readers may make (`ok`), with per-role exceptions."""
    return {
        "author": ok,
        "moderator": ok,
        "member": ok,
        "stranger": 404,
        "other_org": 404,
        "read_token": 403,
        "revoked_token": 401,
        **overrides,
    }


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    url: Callable[[Cast], str]
    expected: dict[str, int]
    body: Callable[[Cast], dict] = lambda c: {}
    # Roles for whom an accepted write has nothing to change (no unread notifications).
    nothing_to_change: tuple[str, ...] = ()


CASES = [
    # --- chat (seed 003) ---------------------------------------------------------------
    Case("rooms list", "get", lambda c: "/api/v1/chat/rooms/", EVERYONE),
    Case(
        "rooms create group",
        "post",
        lambda c: "/api/v1/chat/rooms/",
        write(201),
        lambda c: {"type": "group", "board": c.board.pk, "name": "new-room"},
    ),
    Case("room detail", "get", lambda c: f"/api/v1/chat/rooms/{c.room.pk}/", READ),
    Case("messages list", "get", lambda c: f"/api/v1/chat/rooms/{c.room.pk}/messages/", READ),
    Case(
        "message send",
        "post",
        lambda c: f"/api/v1/chat/rooms/{c.room.pk}/messages/",
        write(201),
        lambda c: {"content": "via the API"},
    ),
    Case(
        "thread reply",
        "post",
        lambda c: f"/api/v1/chat/rooms/{c.room.pk}/messages/",
        write(201),
        lambda c: {"content": "a reply", "parent": c.message.pk},
    ),
    Case(
        "thread list",
        "get",
        lambda c: f"/api/v1/chat/rooms/{c.room.pk}/messages/?parent={c.message.pk}",
        READ,
    ),
    Case("message detail", "get", lambda c: f"/api/v1/chat/messages/{c.message.pk}/", READ),
    Case(
        "message edit",
        "patch",
        lambda c: f"/api/v1/chat/messages/{c.message.pk}/",
        write(200, moderator=403, member=403),
        lambda c: {"content": "edited"},
    ),
    Case(
        "message delete",
        "delete",
        lambda c: f"/api/v1/chat/messages/{c.message.pk}/",
        write(204, member=403),
    ),
    Case(
        "participant add",
        "post",
        lambda c: f"/api/v1/chat/rooms/{c.room.pk}/participants/",
        write(200, author=403, member=403),
        lambda c: {"username": "frank"},
    ),
    Case(
        "participant remove",
        "delete",
        lambda c: f"/api/v1/chat/rooms/{c.room.pk}/participants/",
        write(200, author=403, member=403),
        lambda c: {"username": "carol"},
    ),
    # --- boards, columns, tasks, comments ------------------------------------------------
    Case("boards list", "get", lambda c: "/api/v1/boards/", EVERYONE),
    Case(
        "board create",
        "post",
        lambda c: "/api/v1/boards/",
        dict.fromkeys(ROLES, 201) | {"read_token": 403, "revoked_token": 401},
        lambda c: {"name": "Fresh"},
    ),
    Case("board detail", "get", lambda c: f"/api/v1/boards/{c.board.pk}/", READ),
    Case(
        "board rename",
        "patch",
        lambda c: f"/api/v1/boards/{c.board.pk}/",
        write(200, author=403, member=403),
        lambda c: {"name": "Renamed"},
    ),
    Case(
        "board delete",
        "delete",
        lambda c: f"/api/v1/boards/{c.board.pk}/",
        write(204, author=403, member=403),
    ),
    Case("columns list", "get", lambda c: f"/api/v1/boards/{c.board.pk}/columns/", READ),
    Case(
        "column create",
        "post",
        lambda c: f"/api/v1/boards/{c.board.pk}/columns/",
        write(201),
        lambda c: {"name": "Review"},
    ),
    Case(
        "column rename and move",
        "patch",
        lambda c: f"/api/v1/columns/{c.column.pk}/",
        write(200),
        lambda c: {"name": "Backlog", "position": 1},
    ),
    Case(
        "column delete",
        "delete",
        lambda c: f"/api/v1/columns/{c.empty_column.pk}/",
        write(204),
    ),
    Case("tasks list", "get", lambda c: f"/api/v1/boards/{c.board.pk}/tasks/", READ),
    Case(
        "task create",
        "post",
        lambda c: f"/api/v1/boards/{c.board.pk}/tasks/",
        write(201),
        lambda c: {"column": c.column.pk, "title": "New task", "assignee": "carol"},
    ),
    Case("task detail", "get", lambda c: f"/api/v1/tasks/{c.task.pk}/", READ),
    Case(
        "task update",
        "patch",
        lambda c: f"/api/v1/tasks/{c.task.pk}/",
        write(200),
        lambda c: {"title": "Ship it now", "priority": "high"},
    ),
    Case(
        "task move",
        "post",
        lambda c: f"/api/v1/tasks/{c.task.pk}/move/",
        write(200),
        lambda c: {"column": c.empty_column.pk, "position": 0},
    ),
    Case("task delete", "delete", lambda c: f"/api/v1/tasks/{c.task.pk}/", write(204)),
    Case("comments list", "get", lambda c: f"/api/v1/tasks/{c.task.pk}/comments/", READ),
    Case(
        "comment create",
        "post",
        lambda c: f"/api/v1/tasks/{c.task.pk}/comments/",
        write(201),
        lambda c: {"content": "a comment via the API"},
    ),
    # --- notifications, search -------------------------------------------------------------
    Case("notifications list", "get", lambda c: "/api/v1/notifications/", EVERYONE),
    Case("notifications count", "get", lambda c: "/api/v1/notifications/count/", EVERYONE),
    Case(
        "notification read",
        "post",
        lambda c: f"/api/v1/notifications/{c.notification.pk}/read/",
        {**OWN, "author": 200, "read_token": 403},
    ),
    Case(
        "notifications read all",
        "post",
        lambda c: "/api/v1/notifications/read-all/",
        dict.fromkeys(ROLES, 200) | {"read_token": 403, "revoked_token": 401},
        nothing_to_change=("moderator", "member", "stranger", "other_org"),
    ),
    Case("search", "get", lambda c: "/api/v1/search/?q=hello", EVERYONE),
]


def state() -> dict:
    """Every app row, but when tokens were last used (calling the API is using a token)."""
    rows = snapshot()
    for token in rows["api.ApiToken"]:
        token.pop("last_used_at")
    return rows


def call(cast: Cast, role: str, case: Case):
    client = cast.client(role)
    return getattr(client, case.method)(case.url(cast), case.body(cast), format="json")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_endpoint_answers_each_role(case: Case, role: str, cast: Cast):
    before = state()
    response = call(cast, role, case)
    assert response.status_code == case.expected[role], (response.status_code, response.content)
    if response.status_code != 204:
        assert response["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        assert "detail" in response.json() or response.status_code == 400
        if case.method != "get":
            assert state() == before, "a refused write changed something"
    elif case.method != "get" and role not in case.nothing_to_change:
        assert state() != before, "an accepted write changed nothing"


def test_the_cases_cover_every_endpoint_and_method():
    """Every API route and method (but the schema, docs, tokens and unread, tested on their
    own) appears in the table above."""
    from django.urls import get_resolver

    from api.urls import urlpatterns

    resolver = get_resolver()
    covered = set()
    cast_stub = Cast(
        board=type("O", (), {"pk": 1})(),
        column=type("O", (), {"pk": 1})(),
        empty_column=type("O", (), {"pk": 1})(),
        task=type("O", (), {"pk": 1})(),
        room=type("O", (), {"pk": 1})(),
        message=type("O", (), {"pk": 1})(),
        notification=type("O", (), {"pk": 1})(),
    )
    for case in CASES:
        match = resolver.resolve(case.url(cast_stub).split("?")[0])
        covered.add((match.url_name, case.method))
    expected = set()
    for pattern in urlpatterns:
        if pattern.name in ("schema", "docs", "tokens", "token", "unread"):
            continue
        view = pattern.callback.view_class
        for method in ("get", "post", "patch", "delete"):
            if hasattr(view, method):
                expected.add((pattern.name, method))
    assert expected <= covered, expected - covered
