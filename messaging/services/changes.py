"""The per-thread change sequence that makes conversations resumable.

Every row a change touches (a new message or reply, the root whose reply count moved, an
edit, a deletion, a reaction) is stamped with the next number of its room's (or task's)
sequence. A client remembers the highest `seq` it has seen and, when its socket comes back,
asks `history/?since=<seq>` for every row changed after it, tombstones included.

Numbers are handed out under a row lock on the room or task, held until commit, so a thread's
changes commit in sequence order: a client that has seen `seq` N has seen every change up to N
that will ever be visible.
"""

from __future__ import annotations

from django.db.models import Max, OuterRef, Subquery

from kanban.models import Task
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment


def lock_thread(thread: ChatRoom | Task) -> None:
    """Take the thread's row lock until commit (FOR NO KEY UPDATE: foreign-key checks on the
    thread still pass). Posts, edits, deletions and reactions in one thread take turns.
    Unordered: ChatRoom's default ordering joins its (nullable) board, and PostgreSQL refuses
    FOR NO KEY UPDATE on the nullable side of an outer join."""
    locked = type(thread).objects.select_for_update(no_key=True).filter(pk=thread.pk)
    list(locked.order_by().values("pk"))


def next_seq(thread: ChatRoom | Task) -> int:
    """The next number of the thread's sequence. Call with the thread locked (`lock_thread`)."""
    if isinstance(thread, ChatRoom):
        rows = ChatMessage.objects.filter(chat_room=thread)
    else:
        rows = TaskThreadComment.objects.filter(task=thread)
    return (rows.aggregate(top=Max("seq"))["top"] or 0) + 1


def lock_thread_for_post(thread: ChatRoom | Task) -> int:
    """`lock_thread` and `next_seq` in one statement (the posting hot path): the thread's row
    lock until commit, and the number the new post gets."""
    if isinstance(thread, ChatRoom):
        rows = ChatMessage.objects.filter(chat_room=OuterRef("pk"))
    else:
        rows = TaskThreadComment.objects.filter(task=OuterRef("pk"))
    top = rows.order_by("-seq").values("seq")[:1]
    locked = type(thread).objects.select_for_update(no_key=True).filter(pk=thread.pk)
    found = list(locked.order_by().annotate(top=Subquery(top)).values_list("top", flat=True))
    return (found[0] or 0) + 1 if found else 1


def stamp(post: ChatMessage | TaskThreadComment, thread: ChatRoom | Task) -> int:
    """Give `post` the thread's next sequence number (in memory; the caller saves `seq`)."""
    post.seq = next_seq(thread)
    return post.seq
