"""Helpers for the security tests that must cover every HTTP route (CSRF, IDOR, XSS).

`routes()` walks the real URLconf, so a route added later is covered (or makes the tests
fail until its object kwarg can be filled in) without anyone remembering to list it.
`World` is a small, fully populated data set: a board with members, a column, a task, a
room with a message, a comment and a notification, so every object-id route has a real
object to point at. `snapshot()` dumps every row the app owns, to prove a refused request
changed nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Invitation
from accounts.org_services import invitation_token
from api.tokens import create_token
from kanban.models import ChecklistItem, Label
from messaging.models import Notification
from tests.factories import (
    AttachmentFactory,
    BoardFactory,
    ChatMessageFactory,
    ChatRoomFactory,
    ColumnFactory,
    TaskFactory,
    TaskThreadCommentFactory,
)

SKIPPED_NAMESPACES = {"admin"}  # Django's own admin: CSRF-protected and staff-only
APP_LABELS = ("accounts", "kanban", "messaging", "api", "webhooks")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "kanban:task_detail"
    pattern: str  # the full pattern, for messages
    kwargs: tuple[str, ...]  # URL kwarg names, in order
    int_kwargs: tuple[str, ...]

    def url(self, values: dict[str, Any]) -> str:
        return reverse(self.name, kwargs={k: values[k] for k in self.kwargs})

    def __str__(self) -> str:
        return self.name


def _walk(patterns, prefix: str, namespace: str | None) -> list[Route]:
    found: list[Route] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            if ns in SKIPPED_NAMESPACES:
                continue
            qualified = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            found += _walk(entry.url_patterns, prefix + str(entry.pattern), qualified)
        elif isinstance(entry, URLPattern):
            if not entry.name:
                raise AssertionError(f"route {prefix}{entry.pattern} has no name")
            converters = getattr(entry.pattern, "converters", {})
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            kwargs = tuple(converters)
            ints = tuple(k for k, c in converters.items() if type(c).__name__ == "IntConverter")
            found.append(Route(name, prefix + str(entry.pattern), kwargs, ints))
    return found


def routes() -> list[Route]:
    """Every named non-admin route of the project."""
    return _walk(get_resolver().url_patterns, "", None)


def snapshot() -> dict[str, list[dict]]:
    """Every row of every model of our apps (sessions excluded: they are not app data)."""
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for label in APP_LABELS
        for model in apps.get_app_config(label).get_models()
    }


@dataclass
class World:
    """`owner`'s board with `members`, one of each object, and the kwargs that name them."""

    owner: Any
    members: list
    board: Any = None
    column: Any = None
    task: Any = None
    room: Any = None
    message: Any = None
    comment: Any = None
    notification: Any = None
    removable: Any = None  # a member the owner may remove (user_id routes)
    organization: Any = None  # the board's organization (slug routes)
    invitation: Any = None  # a pending invitation to it (invitation_id and token routes)
    label: Any = None  # a label of the board (label_id routes)
    checklist_item: Any = None  # an item of the task's checklist (item_id routes)
    attachment: Any = None  # issue 12: a file sent with `message`
    token: Any = None  # issue 15: the owner's personal access token (token_id routes)
    incoming_webhook: Any = None  # issue 15: of `room` (incoming_id routes)
    incoming_secret: str = ""  # its URL's secret (the secret route)
    outgoing_webhook: Any = None  # issue 15: of `board` (outgoing_id routes)
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, owner, members) -> World:
        world = cls(owner=owner, members=list(members))
        world.board = BoardFactory(created_by=owner, members=world.members)
        world.column = ColumnFactory(board=world.board)
        world.task = TaskFactory(column=world.column)
        world.room = ChatRoomFactory(board=world.board, members=world.members)
        speaker = world.members[0] if world.members else owner
        world.message = ChatMessageFactory(chat_room=world.room, author=speaker)
        world.comment = TaskThreadCommentFactory(task=world.task, author=speaker)
        world.notification = Notification.objects.create(
            recipient=owner,
            sender=speaker,
            text=f"{speaker.username} mentioned you",
            chat_message=world.message,
        )
        world.removable = world.members[-1] if world.members else owner
        # The live board (issue 13): a label and a checklist item to point at.
        world.label = Label.objects.create(board=world.board, name="Bug", colour="red")
        world.checklist_item = ChecklistItem.objects.create(task=world.task, text="Check")
        world.organization = world.board.organization
        world.invitation = Invitation.objects.create(
            organization=world.organization,
            email=f"invitee{world.board.pk}@example.com",
            key=secrets.token_urlsafe(24),
            invited_by=owner,
            expires_at=timezone.now() + timedelta(days=7),
        )
        world.attachment = AttachmentFactory(
            uploaded_by=speaker,
            organization=world.board.organization,
            attached_at=world.message.created_at,
        )
        world.message.attachments.add(world.attachment)
        world.token, _secret = create_token(user=owner, name="script", scopes=["read", "write"])
        # Webhooks (issue 15): rows made directly (the services would resolve the URL's host).
        from webhooks.models import IncomingWebhook, OutgoingWebhook
        from webhooks.services import hash_token

        bot = type(owner).objects.create(username=f"webhook-{world.room.pk}", is_bot=True)
        world.room.members.add(bot)
        world.incoming_secret = secrets.token_urlsafe(32)
        world.incoming_webhook = IncomingWebhook.objects.create(
            room=world.room,
            name="CI",
            bot=bot,
            token_hash=hash_token(world.incoming_secret),
            created_by=owner,
        )
        world.outgoing_webhook = OutgoingWebhook.objects.create(
            board=world.board,
            url="https://example.com/hook",
            events=["task.created"],
            secret="whsec_test",
            created_by=owner,
        )
        return world

    def kwargs(self) -> dict[str, int | str]:
        """Values for every URL kwarg an object route may use. A route with a kwarg missing
        here makes `url_for` fail loudly, so new routes cannot slip through untested."""
        return {
            "board_id": self.board.pk,
            "column_id": self.column.pk,
            "task_id": self.task.pk,
            "room_id": self.room.pk,
            "notification_id": self.notification.pk,
            "user_id": self.removable.pk,
            "message_id": self.message.pk,
            "comment_id": self.comment.pk,
            "slug": self.organization.slug,
            "invitation_id": self.invitation.pk,
            "token": invitation_token(self.invitation),
            "label_id": self.label.pk,
            "item_id": self.checklist_item.pk,
            "attachment_id": self.attachment.pk,
            "token_id": self.token.pk,
            "incoming_id": self.incoming_webhook.pk,
            "outgoing_id": self.outgoing_webhook.pk,
            "secret": self.incoming_secret,
        }

    def url_for_name(self, name: str) -> str:
        return self.url_for(next(route for route in routes() if route.name == name))

    def url_for(self, route: Route, overrides: dict[str, int] | None = None) -> str:
        values = {**self.kwargs(), **(overrides or {})}
        missing = [k for k in route.kwargs if k not in values]
        if missing:
            raise AssertionError(
                f"{route.name} ({route.pattern}) has URL kwargs {missing} the security tests "
                "cannot fill: add them to tests/security_routes.World.kwargs()"
            )
        return route.url(values)


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
