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


@register.simple_tag(takes_context=True)
def task_thread(context: dict, task: Task, user: User) -> dict[str, Any]:
    """The latest comments of a task's thread for `_comment_thread.html`, which the kanban
    task page includes without loading comments itself. The caller has already checked that
    `user` may see `task` (it rendered the task). `?around=<comment id>` on the page (a search
    result) loads the comments around that one instead."""
    request = context.get("request")
    value = request.GET.get("around", "") if request is not None else ""
    around = int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**63 else None
    page = recent_comments(task, user, around=around) if around else None
    if page is None:
        page, around = recent_comments(task, user), None
    return {
        "items": page.items,
        "has_more": page.has_more,
        "has_newer": page.has_newer,
        "around": around,
        "max_length": settings.MESSAGE_MAX_LENGTH,
    }


@register.filter
def iso(value: datetime | None) -> str:
    """ISO 8601 in UTC with a Z suffix: the timestamp format of the WebSocket payloads."""
    return realtime.iso(value) if value else ""
