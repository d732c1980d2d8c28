"""Chat rooms and their membership. Views and consumers call these; nothing else writes to
ChatRoom or its members."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.audit import Action, record_audit
from accounts.models import User
from kanban import access as board_access
from kanban.models import Board
from messaging import access, realtime
from messaging.models import ChatRoom, Notification, UserTypingStatus
from messaging.services.activity import event_key, schedule_activity_notification

ROOM_NAME_MAX_LENGTH = ChatRoom._meta.get_field("name").max_length


def _duplicate_name_error(name: str) -> ValidationError:
    return ValidationError(
        {"name": f"This board already has a room called “{name}”."}, code="duplicate"
    )


@transaction.atomic
def create_chat_room(
    *,
    board: Board,
    created_by: User,
    name: str,
    description: str = "",
    members: Iterable[User] = (),
) -> ChatRoom:
    """Create a room on a board. The creator is always a member; every member must belong to
    the board. Names are unique per board, ignoring case."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the room a name."}, code="required")
    if len(name) > ROOM_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Room names are limited to {ROOM_NAME_MAX_LENGTH} characters."},
            code="too_long",
        )
    if not board_access.can_read_board(created_by, board.pk):
        raise ValidationError("Only members of the board can create rooms.", code="not_member")
    member_ids = {user.pk for user in members} | {created_by.pk}
    board_member_ids = set(
        board_access.board_readers(board.pk).filter(pk__in=member_ids).values_list("pk", flat=True)
    )
    if member_ids - board_member_ids:
        raise ValidationError(
            {"members": "Rooms can only include members of the board."}, code="not_member"
        )
    if ChatRoom.objects.filter(board=board, name__iexact=name).exists():
        raise _duplicate_name_error(name)
    try:
        with transaction.atomic():
            room = ChatRoom.objects.create(
                board=board,
                name=name,
                description=(description or "").strip(),
                created_by=created_by,
            )
    except IntegrityError as exc:  # a concurrent create took the name
        raise _duplicate_name_error(name) from exc
    room.members.add(*member_ids)
    audit = record_audit(
        organization=board.organization_id,
        actor=created_by,
        action=Action.ROOM_CREATED,
        target=room,
        changes={"name": room.name, "board": board.name, "members": len(member_ids)},
    )
    for user_id in sorted(member_ids - {created_by.pk}):
        _notify_invited(room, user_id, actor=created_by, audit=audit)
    return room


def _notify_invited(room: ChatRoom, user_id: int, *, actor: User, audit) -> None:
    schedule_activity_notification(
        kind=Notification.Type.ROOM_INVITE,
        recipient_id=user_id,
        actor_id=actor.pk,
        target_id=room.pk,
        key=event_key(Notification.Type.ROOM_INVITE, audit),
    )


def _check_manager(room: ChatRoom, acting_user: User, *, as_admin: bool = False) -> None:
    """`as_admin=True`: the admin site's staff, under the admin's own permissions."""
    if not as_admin and not access.can_manage_room(acting_user, room):
        raise ValidationError(
            "Only the room's creator or the board's creator can manage members.",
            code="forbidden",
        )


@transaction.atomic
def add_room_member(*, room: ChatRoom, user: User, added_by: User, as_admin: bool = False) -> bool:
    """Add a board member to the room. Returns False if they were already in it."""
    _check_manager(room, added_by, as_admin=as_admin)
    if not board_access.can_read_board(user, room.board_id):
        raise ValidationError(
            f"{user.username} is not a member of this board.", code="not_board_member"
        )
    if room.members.filter(pk=user.pk).exists():
        return False
    room.members.add(user)
    audit = record_audit(
        organization=room.board.organization_id,
        actor=added_by,
        action=Action.ROOM_MEMBER_ADDED,
        target=room,
        changes={"user": user.username},
    )
    _notify_invited(room, user.pk, actor=added_by, audit=audit)
    return True


@transaction.atomic
def remove_room_member(
    *, room: ChatRoom, user: User, removed_by: User, as_admin: bool = False
) -> bool:
    """Remove a member from the room and, after commit, tell their open sockets to re-check
    access (they are closed). The room's creator stays. Returns False if they were not in it."""
    _check_manager(room, removed_by, as_admin=as_admin)
    if user.pk == room.created_by_id:
        raise ValidationError("The room's creator cannot be removed.", code="creator")
    if not room.members.filter(pk=user.pk).exists():
        return False
    room.members.remove(user)
    UserTypingStatus.objects.filter(chat_room=room, user=user).delete()
    record_audit(
        organization=room.board.organization_id,
        actor=removed_by,
        action=Action.ROOM_MEMBER_REMOVED,
        target=room,
        changes={"user": user.username},
    )
    realtime.signal_access_changed_on_commit(user.pk)
    return True


@transaction.atomic
def rename_chat_room(
    *, room: ChatRoom, name: str, description: str, renamed_by: User, as_admin: bool = False
) -> ChatRoom:
    """Change a room's name and description (its managers). Names stay unique per board."""
    _check_manager(room, renamed_by, as_admin=as_admin)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the room a name."}, code="required")
    if len(name) > ROOM_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Room names are limited to {ROOM_NAME_MAX_LENGTH} characters."},
            code="too_long",
        )
    if ChatRoom.objects.filter(board_id=room.board_id, name__iexact=name).exclude(pk=room.pk):
        raise _duplicate_name_error(name)
    old_name = room.name
    room.name = name
    room.description = (description or "").strip()
    try:
        with transaction.atomic():
            room.save(update_fields=["name", "description"])
    except IntegrityError as exc:
        raise _duplicate_name_error(name) from exc
    if old_name != name:
        record_audit(
            organization=room.board.organization_id,
            actor=renamed_by,
            action=Action.ROOM_RENAMED,
            target=room,
            changes={"name": [old_name, name]},
        )
    return room


@transaction.atomic
def delete_chat_room(*, room: ChatRoom, deleted_by: User, as_admin: bool = False) -> None:
    """Delete a room with its messages; its members' open sockets re-check access (and
    close) after commit."""
    _check_manager(room, deleted_by, as_admin=as_admin)
    member_ids = list(room.members.values_list("pk", flat=True))
    record_audit(
        organization=room.board.organization_id,
        actor=deleted_by,
        action=Action.ROOM_DELETED,
        target=room,
        changes={"name": room.name, "board": room.board.name},
    )
    room.delete()
    for user_id in member_ids:
        realtime.signal_access_changed_on_commit(user_id)
