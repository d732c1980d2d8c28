"""Template tags for messaging partials that other apps' pages include."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from kanban.models import Task
from messaging import realtime
from messaging.formatting import render_markdown, sanitize
from messaging.selectors.conversations import reactions_by_post, thread_seq
from messaging.selectors.threads import recent_comments

register = template.Library()


@register.simple_tag(takes_context=True)
def task_thread(context: dict, task: Task, user: User) -> dict[str, Any]:
    """The latest comments of a task's thread for `_comment_thread.html`, which the kanban
    task page includes without loading comments itself. The caller has already checked that
    `user` may see `task` (it rendered the task). `?around=<comment id>` on the page (a search
    result) loads the comments around that one instead."""
    seq = thread_seq(task)  # first: anything changed after it is fetched again (?since=)
    request = context.get("request")
    value = request.GET.get("around", "") if request is not None else ""
    around = int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**63 else None
    page = recent_comments(task, user, around=around) if around else None
    if page is None:
        page, around = recent_comments(task, user), None
    reactions = reactions_by_post("task_thread_comment", (c.pk for c in page.items))
    for comment in page.items:
        comment.reaction_list = reactions.get(comment.pk, [])
    return {
        "items": page.items,
        "has_more": page.has_more,
        "has_newer": page.has_newer,
        "around": around,
        "max_length": settings.MESSAGE_MAX_LENGTH,
        "seq": seq,
        "can_moderate": user.pk == task.column.board.created_by_id,
    }


@register.filter
def iso(value: datetime | None) -> str:
    """ISO 8601 in UTC with a Z suffix: the timestamp format of the WebSocket payloads."""
    return realtime.iso(value) if value else ""


@register.filter
def post_html(post: Any) -> SafeString:
    """A message's or comment's server-rendered Markdown, cleaned once more on the way out;
    empty for a tombstone. A row stored without html (written past the services) is
    rendered here, from its text."""
    if post.is_deleted:
        return mark_safe("")
    if post.html:
        return mark_safe(sanitize(post.html))
    return mark_safe(render_markdown(post.content))


@register.filter
def attachment_list(post: Any) -> list[dict[str, Any]]:
    """Issue 12: a message's or comment's files (prefetched by the selectors), each as the
    wire item plus `pending` (an image whose preview is still being made)."""
    from messaging.models import Attachment
    from messaging.services.attachments import attachment_item

    if getattr(post, "is_deleted", False) or not getattr(post, "pk", None):
        return []
    return [
        {**attachment_item(a), "pending": a.preview == Attachment.Preview.PENDING}
        for a in post.attachments.all()
    ]


@register.filter
def json_attr(value: Any) -> str:
    """JSON for a data-* attribute (the template's autoescape makes it attribute-safe)."""
    return json.dumps(value)
