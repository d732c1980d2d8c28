"""Who may read and write a chat room or a task's comment thread: the one place that decides.

- A room is read (and written) by its members who can still read its board
  (`kanban.access`): a member removed from the board, or from the organization, or
  deactivated, keeps their room row (it counts again if they come back) but reads nothing.
- A task's thread is read (and written) by the readers of the task's board.
- A room's members are managed by the room's creator and by whoever manages its board.
- A bot (issue 15: the identity an incoming webhook posts as, `User.is_bot`) reads and
  writes the group rooms it is a member of while it is active. It belongs to no board or
  organization, and nothing adds it to a room but the webhook service; revoking the webhook
  deactivates it.
- A direct room (issue 10) has no board: its participants read it while they are active
  members of the room's organization. Nobody manages its members (the same people always
  get the same room).

`room_reader_rows()` states the room rule once, built on the board rule; views, consumers
(on connect and before every frame), selectors, services, mention resolution and notification
recipients all go through the functions here, so changing the rule is a change in this file.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.access import can_manage_organization
from accounts.models import User
from kanban import access as board_access
from kanban.models import Task

from .models import ChatMessage, ChatRoom, TaskThreadComment

RoomMember = ChatRoom.members.through


def room_reader_rows() -> QuerySet:
    """Room-membership rows that grant reading (the row itself is the room membership): in a
    group room the user may read the room's board (`kanban.access.reader_q`); in a direct room
    (issue 10) the user is an active member of the room's organization.

    Plain joins in one filter (the per-frame re-check builds this query often; see
    `kanban.access.reader_q`). A row may repeat through the board join, so callers use it
    only inside `exists()` or `pk__in` subqueries, never as a list."""
    group = Q(chatroom__room_type=ChatRoom.RoomType.GROUP) & board_access.reader_q(
        user="user", board="chatroom__board"
    )
    direct = Q(
        chatroom__room_type=ChatRoom.RoomType.DIRECT,
        user__is_active=True,
        user__memberships__organization=F("chatroom__organization"),
    )
    # Issue 15: no extra join (the user row is joined already).
    bot = Q(chatroom__room_type=ChatRoom.RoomType.GROUP, user__is_bot=True, user__is_active=True)
    return RoomMember.objects.filter(group | direct | bot)


def _user_id(user: User) -> int | None:
    return user.pk if getattr(user, "is_authenticated", False) else None


# --- rooms -------------------------------------------------------------------------------


def readable_rooms(user: User) -> QuerySet[ChatRoom]:
    """Every room the user may read."""
    user_id = _user_id(user)
    if user_id is None:
        return ChatRoom.objects.none()
    return ChatRoom.objects.filter(
        pk__in=room_reader_rows().filter(user_id=user_id).values("chatroom_id")
    )


def can_read_room(user: User, room_id: int) -> bool:
    """One query. Reading a room is also posting in it."""
    user_id = _user_id(user)
    return user_id is not None and can_read_room_id(user_id=user_id, room_id=room_id)


can_post_in_room = can_read_room


def can_read_room_id(*, user_id: int, room_id: int) -> bool:
    """`can_read_room` for callers holding only ids (consumers' per-frame re-check)."""
    return room_reader_rows().filter(user_id=user_id, chatroom_id=room_id).exists()


def room_readers(room_id: int) -> QuerySet[User]:
    """Everyone who may read the room (whom its mentions, typists and member list show)."""
    return User.objects.filter(
        pk__in=room_reader_rows().filter(chatroom_id=room_id).values("user_id")
    )


def direct_partners(user: User) -> QuerySet[User]:
    """Everyone else who may read a direct room the user may read (the inbox's presence
    dots: issue 11)."""
    rooms = readable_rooms(user).filter(room_type=ChatRoom.RoomType.DIRECT).values("pk")
    rows = room_reader_rows().filter(chatroom_id__in=rooms).values("user_id")
    return User.objects.filter(pk__in=rows).exclude(pk=_user_id(user))


def _room_reader_ids_query(room_id: int) -> QuerySet:
    rows = room_reader_rows().filter(chatroom_id=room_id).values_list("user_id", flat=True)
    return rows.distinct()


def room_reader_ids(room_id: int) -> set[int]:
    """Ids of everyone who may read the room, in one query (the posting service checks the
    author against it and tells the others their unread count changed: issue 11).

    Every chat message runs it, and building it cost the ORM more than the rest of the post
    (issue 16): its SQL is compiled once per database and reused with the room's id."""
    using = router.db_for_read(RoomMember)
    sql, params, slots = _compiled_room_reader_ids(using)
    params = list(params)
    for slot in slots:
        params[slot] = room_id
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return {user_id for (user_id,) in cursor.fetchall()}


_ROOM_MARK = -7_000_000_007  # a room id no row has: marks where the room's id goes
_compiled: dict[tuple[str, str], tuple[str, tuple, tuple[int, ...]]] = {}


def _compiled_room_reader_ids(using: str) -> tuple[str, tuple, tuple[int, ...]]:
    key = (using, connections[using].vendor)
    if key not in _compiled:
        query = _room_reader_ids_query(_ROOM_MARK).query
        sql, params = query.get_compiler(using=using).as_sql()
        slots = tuple(i for i, value in enumerate(params) if value == _ROOM_MARK)
        if len(slots) != 1 or str(_ROOM_MARK) in sql:
            raise RuntimeError(f"room_reader_ids: cannot place the room id in {sql!r}")
        _compiled[key] = (sql, tuple(params), slots)
    return _compiled[key]


def can_manage_room(user: User, room: ChatRoom) -> bool:
    """Add and remove room members: the room's creator (while they can read it) and whoever
    manages the room's board."""
    if room.is_direct:
        return False
    if room.created_by_id == user.pk and can_read_room(user, room.pk):
        return True
    return board_access.can_manage_board(user, room.board)


def room_member_candidates(room: ChatRoom) -> QuerySet[User]:
    """Whom the room's member picker may name: readers of the room's board (to add) and the
    room's own members (to remove a stale row). Nobody outside the organization."""
    return User.objects.filter(
        Q(pk__in=board_access.board_readers(room.board_id).values("pk"))
        | Q(pk__in=RoomMember.objects.filter(chatroom_id=room.pk).values("user_id"))
    )


def room_organization_id(room: ChatRoom) -> int:
    """The organization a room belongs to: its own (direct rooms) or its board's."""
    return room.organization_id or room.board.organization_id


def can_moderate_room(user: User, room: ChatRoom) -> bool:
    """Delete anyone's message in a room: the room's creator, the board's creator and the
    organization's owners and admins, while they can read the room. In a direct room only
    the organization's owners and admins (whoever wrote first is not in charge of the
    others). Authors delete their own messages without being moderators."""
    if not can_read_room(user, room.pk):
        return False
    if not room.is_direct and user.pk in (room.created_by_id, room.board.created_by_id):
        return True
    return can_manage_organization(user, room_organization_id(room))


def can_moderate_message(user: User, message: ChatMessage) -> bool:
    return can_moderate_room(user, message.chat_room)


def can_moderate_comment(user: User, comment: TaskThreadComment) -> bool:
    """Delete anyone's comment on a task: the board's creator and the organization's owners
    and admins, while they can read the thread."""
    board = comment.task.column.board
    if not can_read_task_thread(user, comment.task_id):
        return False
    return user.pk == board.created_by_id or can_manage_organization(user, board.organization_id)


# --- task threads ------------------------------------------------------------------------


def readable_task_threads(user: User) -> QuerySet[Task]:
    """Tasks whose thread the user may read."""
    return board_access.readable_tasks(user)


def can_read_task_thread(user: User, task_id: int) -> bool:
    """One query. Reading a thread is also commenting on it."""
    return board_access.can_read_task(user, task_id)


def can_read_task_thread_id(*, user_id: int, task_id: int) -> bool:
    """`can_read_task_thread` for callers holding only ids (consumers' per-frame re-check)."""
    return board_access.can_read_task_id(user_id=user_id, task_id=task_id)


can_comment_on_task = can_read_task_thread


def task_thread_readers(task: Task) -> QuerySet[User]:
    return board_access.task_readers(task)


# --- what a mention or notification may reach --------------------------------------------


def readers_of(target: ChatMessage | TaskThreadComment) -> QuerySet[User]:
    """Who may read a message or comment: its room's or its task's readers."""
    if isinstance(target, ChatMessage):
        return room_readers(target.chat_room_id)
    return board_access.board_readers(
        Task.objects.filter(pk=target.task_id).values("column__board_id")[:1]
    )


def notification_readable_q() -> Q:
    """For Notification rows (issue 11's e-mails): the recipient can still read what the
    notification points at (its message's room, its comment's or task's board). Built on
    the room and board rules above; a filter, so a batch is checked in its one query."""
    room = Exists(
        room_reader_rows().filter(
            user_id=OuterRef("recipient_id"), chatroom_id=OuterRef("chat_message__chat_room_id")
        )
    )
    comment_board = Exists(
        board_access.reader_rows().filter(
            user_id=OuterRef("recipient_id"),
            board_id=OuterRef("task_thread_comment__task__column__board_id"),
        )
    )
    task_board = Exists(
        board_access.reader_rows().filter(
            user_id=OuterRef("recipient_id"), board_id=OuterRef("task__column__board_id")
        )
    )
    return (
        (Q(chat_message__isnull=True) | room)
        & (Q(task_thread_comment__isnull=True) | comment_board)
        & (Q(task__isnull=True) | task_board)
    )


# --- attachments (issue 12) --------------------------------------------------------------


def can_read_attachment(user: User, attachment) -> bool:
    """An attachment is read by whoever can read a (not deleted) message or comment that
    carries it, and by its uploader while it is not sent yet. The room and thread rules
    above decide, so a removed member loses the files with the messages."""
    user_id = _user_id(user)
    if user_id is None:
        return False
    if attachment.attached_at is None:
        return attachment.uploaded_by_id == user_id
    rooms = ChatMessage.objects.filter(attachments=attachment, is_deleted=False).values(
        "chat_room_id"
    )
    if room_reader_rows().filter(user_id=user_id, chatroom_id__in=rooms).exists():
        return True
    tasks = TaskThreadComment.objects.filter(attachments=attachment, is_deleted=False).values(
        "task_id"
    )
    return board_access.readable_tasks(user).filter(pk__in=tasks).exists()
