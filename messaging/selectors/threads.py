"""Reads about task comment threads. A task's thread is visible to the members of its board;
access to the task itself goes through `kanban.selectors.get_task_for`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from accounts.models import User
from kanban.models import Task
from messaging import access, realtime
from messaging.models import TaskThreadComment

from .mentions import mentionable_users
from .paging import Page, around_page, keyset_page


def is_task_board_member(*, user_id: int, task_id: int) -> bool:
    """Whether the user may still read and write the task's thread (one query):
    `access.can_read_task_thread` by user id."""
    return access.can_read_task_thread_id(user_id=user_id, task_id=task_id)


def resolve_task_mentions(
    task: Task, names: Iterable[str], *, exclude_user_id: int | None = None
) -> list[User]:
    """Users mentioned by name who can read the thread; unknown names, outsiders and
    `exclude_user_id` (the author) are silently ignored. No query, and no ORM work, for a
    text that mentions nobody (most messages: issue 16)."""
    names = [name for name in names if name]
    if not names:
        return []
    users = mentionable_users(names=names, board=task.column.board)
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return list(users)


def _comments(task: Task) -> QuerySet[TaskThreadComment]:
    return (
        TaskThreadComment.objects.filter(task=task)
        .select_related("author")
        .prefetch_related("attachments")  # issue 12
    )


def recent_comments(
    task: Task, user: User, *, limit: int | None = None, around: int | None = None
) -> Page | None:
    """The latest comments for the thread partial, oldest first, each with `mentions_me`; with
    `around`, the page centred on that comment (None if it is not on the task)."""
    through = TaskThreadComment.mentioned_users.through
    mentions_me = Exists(
        through.objects.filter(taskthreadcomment_id=OuterRef("pk"), user_id=user.pk)
    )
    queryset = _comments(task).annotate(mentions_me=mentions_me)
    if around is not None:
        return around_page(queryset, around=around, limit=limit or settings.CHAT_PAGE_SIZE)
    return keyset_page(queryset, limit=limit or settings.CHAT_PAGE_SIZE)


def comment_page(
    task: Task,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int,
    around: int | None = None,
) -> Page[TaskThreadComment] | None:
    """A keyset page of the thread with authors and mentioned users loaded (two queries).
    With `around`: the page centred on that comment, None if it is not on the task."""
    queryset = _comments(task).prefetch_related(
        Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))
    )
    if around is not None:
        return around_page(queryset, around=around, limit=limit)
    return keyset_page(queryset, before=before, after=after, limit=limit)


def comment_payload(comment: TaskThreadComment) -> dict[str, Any]:
    """The wire shape of a saved comment (the same one its broadcast carried)."""
    mentioned = [user.username for user in comment.mentioned_users.all()]
    return realtime.comment_payload(comment, mentioned)
