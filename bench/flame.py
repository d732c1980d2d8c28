"""Summarize a py-spy raw profile (collapsed stacks, recorded with --idle --threads): for
each thread, how much of the wall time it waited (for work, for epoll, for PostgreSQL, for
the event loop) and where its busy time went.

Run: python -m bench.flame profile.txt
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

# Leaf frames that mean "this thread is not running Python code right now".
WAITS = (
    ("EpollSelector.select", "idle in epoll (event loop waiting for I/O)"),
    ("_worker (concurrent/futures/thread.py", "idle, waiting for work (executor queue)"),
    ("Connection.wait (psycopg", "waiting for PostgreSQL"),
    ("wait_c (psycopg", "waiting for PostgreSQL"),
    ("Condition.wait (threading.py", "blocked in a threading wait (e.g. async_to_sync)"),
    ("Event.wait (threading.py", "blocked in a threading wait"),
)
# Where busy samples belong: the first label whose marker appears anywhere in the stack.
CATEGORIES = (
    ("Django health check SELECT 1 (after close_old_connections)", "close_if_health_check_failed"),
    ("channels dispatch: aclose_old_connections() before every handler", "aclose_old_connections"),
    ("channels dispatch: aclose_old_connections() before every handler", "close_old_connections"),
    ("broadcast_now: async_to_sync(group_send) on the DB thread", "broadcast_now"),
    ("post_chat_message: queries, insert, commit", "post_chat_message"),
    ("post_chat_message: queries, insert, commit", "ContextDecorator.__call__.<locals>.inner"),
    ("allowed_now: is_room_member query before each frame", "is_room_member"),
    ("allowed_now: is_room_member query before each frame", "allowed_now"),
    ("connect: session, auth, authorize", "session_user_id"),
    ("connect: session, auth, authorize", "get_room_for"),
    ("connect: session, auth, authorize", "authorize"),
    ("channels_redis group_send", "group_send (channels_redis"),
    ("channels_redis group_send", "group_send (channels/layers"),
    ("channel layer receive loop", "receive_single (channels_redis"),
    ("channel layer receive loop", "receive (channels_redis"),
    ("channel layer receive loop", "channels_redis/pubsub"),
    ("thread hops: SyncToAsync / futures / call_soon_threadsafe", "SyncToAsync.__call__"),
    ("thread hops: SyncToAsync / futures / call_soon_threadsafe", "call_soon_threadsafe"),
    ("thread hops: SyncToAsync / futures / call_soon_threadsafe", "AsyncToSync"),
    ("forward -> websocket send (daphne/autobahn)", "handle_reply (daphne"),
    ("forward -> websocket send (daphne/autobahn)", "forward ("),
    ("incoming frames (twisted/autobahn -> consumer)", "dataReceived"),
    ("twisted socket writes", "doWrite (twisted"),
    ("consumer receive: JSON, validation", "receive (messaging"),
    ("consumer receive: JSON, validation", "receive (bench"),
)


def _category(stack: str) -> str:
    for label, marker in CATEGORIES:
        if marker in stack:
            return label
    return "other (event loop plumbing, timers, GC)"


def _wait_kind(leaf: str) -> str | None:
    for prefix, label in WAITS:
        if leaf.startswith(prefix):
            return label
    return None


def summarize(path: str, top: int = 5) -> str:
    """Per thread: how long it sat idle, then what its other samples (running Python, or
    blocked on PostgreSQL or a threading wait inside our stack) went to, by category, and the
    busiest leaf functions. Threads that were idle throughout are left out."""
    threads: Counter[str] = Counter()
    waits: dict[str, Counter[str]] = defaultdict(Counter)
    cats: dict[str, Counter[str]] = defaultdict(Counter)
    leaves: dict[str, Counter[str]] = defaultdict(Counter)
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            head, _, rest = stack.partition(";")
            thread = head.split(": ", 1)[-1]
            threads[thread] += n
            leaf = rest.rsplit(";", 1)[-1]
            kind = _wait_kind(leaf)
            if kind and "psycopg_pool/" in rest and "threading" in kind:
                kind = "idle (psycopg_pool housekeeping thread)"
            if kind and "PostgreSQL" not in kind and "threading" not in kind:
                waits[thread][kind] += n
                continue
            cats[thread][_category(rest)] += n
            if kind is None:
                leaves[thread][leaf] += n
    lines = []
    for thread, total in threads.most_common():
        idle = sum(waits[thread].values())
        busy = total - idle
        if busy < 0.01 * total:
            continue  # an idle thread (pool worker, scheduler): nothing to show
        waited = ", ".join(f"{100 * n / total:.0f}% {kind}" for kind, n in waits[thread].items())
        lines.append(
            f"thread {thread}: {total} wall-clock samples; {waited or 'never idle'}; the "
            f"other {100 * busy / total:.1f}% ({busy} samples) went to:"
        )
        for label, n in cats[thread].most_common():
            lines.append(f"  {100 * n / busy:5.1f}%  {label}")
        hot = ", ".join(
            f"{leaf} {100 * n / busy:.1f}%" for leaf, n in leaves[thread].most_common(top)
        )
        if hot:
            lines.append(f"  hottest leaves (% of those samples): {hot}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
