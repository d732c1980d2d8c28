"""Reactions: toggling one emoji of one person on a message or comment.

Only real emoji count (one emoji per reaction, checked against the Unicode emoji data of the
`emoji` package, skin tones and ZWJ sequences included); a post carries at most
MAX_DISTINCT_REACTIONS different ones. A toggle stamps the post with the thread's next sequence
number and broadcasts the post's whole reaction list after commit, so every client simply
replaces what it shows.
"""

from __future__ import annotations

from typing import Any

import emoji as emoji_data
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from messaging import access, realtime
from messaging.models import ChatMessage, Reaction, TaskThreadComment
from messaging.selectors.conversations import post_reactions
from messaging.services.changes import lock_thread, stamp

MAX_DISTINCT_REACTIONS = 20
MAX_EMOJI_CHARS = 32  # the longest RGI sequences (families, flags of regions) are shorter


def clean_emoji(value: Any) -> str:
    """The emoji, or ValidationError unless `value` is exactly one emoji."""
    if not isinstance(value, str):
        raise ValidationError('"emoji" must be a string.', code="invalid")
    value = value.strip()
    if not value or len(value) > MAX_EMOJI_CHARS or not emoji_data.is_emoji(value):
        raise ValidationError("React with a single emoji.", code="not_emoji")
    return value


@transaction.atomic
def toggle_reaction(
    *, post: ChatMessage | TaskThreadComment, user: User, emoji: str
) -> dict[str, Any]:
    """Add the user's `emoji` to the post, or take it back if it is there. Returns the
    `reactions` payload (also broadcast to the room or task thread after commit)."""
    emoji = clean_emoji(emoji)
    if isinstance(post, ChatMessage):
        thread, field = post.chat_room, "chat_message"
        group = realtime.room_group(post.chat_room_id)
        allowed = access.can_read_room_id(user_id=user.pk, room_id=post.chat_room_id)
    else:
        thread, field = post.task, "task_thread_comment"
        group = realtime.task_group(post.task_id)
        allowed = access.can_read_task_thread_id(user_id=user.pk, task_id=post.task_id)
    if not allowed:
        raise ValidationError("You cannot react here.", code="not_member")
    lock_thread(thread)
    post = type(post).objects.get(pk=post.pk)
    if post.is_deleted:
        raise ValidationError("You cannot react to a deleted post.", code="deleted")
    mine = Reaction.objects.filter(**{field: post}, user=user, emoji=emoji)
    if not mine.delete()[0]:
        used = set(Reaction.objects.filter(**{field: post}).values_list("emoji", flat=True))
        if emoji not in used and len(used) >= MAX_DISTINCT_REACTIONS:
            raise ValidationError(
                f"A post can carry at most {MAX_DISTINCT_REACTIONS} different reactions.",
                code="too_many",
            )
        Reaction.objects.create(**{field: post}, user=user, emoji=emoji)
    stamp(post, thread)
    post.save(update_fields=["seq"])
    payload = realtime.reactions_payload(post, post_reactions(post))
    realtime.broadcast_on_commit(group, payload)
    return payload
