"""Running ORM work from the consumers' event loop.

Channels' `database_sync_to_async` sends every call to one thread shared by the whole process
(thread_sensitive=True): with PostgreSQL that thread was the ceiling of the chat path (about
14 ms of database time per message, one message at a time for every socket of the process).

`db_call` runs the work on a small pool of its own threads instead (`CONSUMER_DB_THREADS`),
each borrowing a connection from the psycopg pool and returning it after the call, like
channels does. Posts to one room still commit in id order: the posting service serializes them
with a row lock until commit, whichever thread runs them. HTTP requests have threads of their
own, so a back-fill never queues behind the sockets' posts here.

SQLite (embedded mode) keeps Channels' single thread: it takes one writer at a time anyway,
and concurrent writers would trade waiting for "database is locked" errors.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connection

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=settings.CONSUMER_DB_THREADS, thread_name_prefix="consumer-db"
        )
    return _executor


def concurrent_database() -> bool:
    return connection.vendor != "sqlite" and settings.CONSUMER_DB_THREADS > 0


def db_call(fn: Callable[..., T]) -> Callable[..., Any]:
    """`database_sync_to_async(fn)`, off the single database thread where the database allows
    concurrent writers. Await the result: `await db_call(service)(**kwargs)`."""
    if not concurrent_database():
        return database_sync_to_async(fn)
    return DatabaseSyncToAsync(fn, thread_sensitive=False, executor=_pool())
