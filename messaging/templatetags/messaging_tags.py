"""Template tags for messaging partials that other apps' pages include."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.conf import settings

from accounts.models import User
from kanban.models import Task
from messaging import realtime
from messaging.selectors.threads import recent_comments

register = template.Library()


@register.simple_tag
def task_thread(task: Task, user: User) -> dict[str, Any]:
    """The latest comments of a task's thread for `_comment_thread.html`, which the kanban
    task page includes without loading comments itself. The caller has already checked that
    `user` may see `task` (it rendered the task)."""
    page = recent_comments(task, user)
    return {
        "items": page.items,
        "has_more": page.has_more,
        "max_length": settings.MESSAGE_MAX_LENGTH,
    }


@register.filter
def iso(value: datetime | None) -> str:
    """ISO 8601 in UTC with a Z suffix: the timestamp format of the WebSocket payloads."""
    return realtime.iso(value) if value else ""
