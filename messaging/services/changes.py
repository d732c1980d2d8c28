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

from django.core.exceptions import ValidationError
from django.db import connection

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
    """Advance the thread's change counter and return the new number, in one statement that
    also takes the thread's row lock until commit (an UPDATE locks the row it changes).

    The counter lives on the thread's row (`last_seq`), not in max(seq) of its posts: a
    `SELECT ... FOR UPDATE` that reads max(seq) in a subquery computes it from the snapshot
    taken before it waited for the lock, so two concurrent posts got the same number (the
    fault tier caught a client's `?since=` resume skipping rows that shared a number). An
    UPDATE re-reads the newest row version once it holds the lock, so numbers never repeat."""
    table = connection.ops.quote_name(type(thread)._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [thread.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise ValidationError("This conversation no longer exists.", code="gone")
    thread.last_seq = row[0]
    return row[0]


def stamp(post: ChatMessage | TaskThreadComment, thread: ChatRoom | Task) -> int:
    """Give `post` the thread's next sequence number (in memory; the caller saves `seq`)."""
    post.seq = next_seq(thread)
    return post.seq
