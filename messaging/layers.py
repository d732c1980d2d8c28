"""Channel-layer resilience: what keeps a socket from going open-but-deaf.

A socket hears a room only while its channel is a member of the room's group, and only while
its process's channel-layer receive loop runs. Both can be lost without the socket noticing:
a Redis restart or FLUSHALL empties the group sets, a stalled Redis times the receive out, and
any failed `group_send` drops an event for good. This module gives the consumers
(messaging.consumers.base) three things:

* `RedisChannelLayer`: channels-redis whose blocking receive (BZPOPMIN) is shorter than the
  Redis socket timeout. channels-redis blocks for 5 s; redis-py 8 times a read out after 5 s
  by default, so an idle process's receive loop died every 5 s (each time crashing a consumer,
  which daphne closed with 1011). A short blocking call lets the socket timeout stay short
  too, so calls against a stalled Redis fail in seconds instead of hanging.
* a per-process *failure clock*: every layer call that fails (receive, group_send, refresh)
  calls `note_layer_failure()` with the time the call began; a socket subscribed before that
  may have missed events, so it is closed and its client reconnects and back-fills from the
  history endpoint.
* `refresh_memberships()`: re-adds a socket to its groups (refreshing `group_expiry`) and says
  whether a membership had been lost, which also means events were missed.
* `send_from_sync()`: a layer send from sync code that does not wait at all (the services'
  on-commit broadcasts): handed to the server's event loop, sent there in order per thread
  and per group; a failure is logged and noted.
* `blocking_pool()`: the connection pool every asyncio Redis client here uses: a call that
  finds every connection busy waits for one (up to REDIS_POOL_TIMEOUT) instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from kanban_board import metrics

logger = logging.getLogger(__name__)


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """Connections to whichever server the sentinels name as primary, handed out like
    BlockingConnectionPool's: when all are busy, a caller waits for one."""


def blocking_pool(
    *,
    address: str | None = None,
    max_connections: int | None = None,
    timeout: float | None = None,
    **options: Any,
) -> BlockingConnectionPool:
    """An asyncio connection pool that waits (up to `timeout` seconds, default
    REDIS_POOL_TIMEOUT) for a free connection once `max_connections` (default
    REDIS_MAX_CONNECTIONS) are in use, where redis-py's default pool raises "Too many
    connections" at once. `address` is a redis:// URL; or `master_name` + `sentinels`
    (+ `sentinel_kwargs`) for Redis through Sentinel; or plain connection options."""
    limits = {
        "max_connections": max_connections or settings.REDIS_MAX_CONNECTIONS,
        "timeout": settings.REDIS_POOL_TIMEOUT if timeout is None else timeout,
    }
    # A connection the server dropped (a Redis restart leaves every pooled one stale) fails
    # its next call; try that call once more, at once, on a new connection. Without this each
    # stale connection failed one call after a restart, and each failure closed the
    # process's sockets for a resync again (fault scenario a). While Redis is down the retry
    # fails as fast as the call did.
    options.setdefault("retry", Retry(NoBackoff(), 1))
    options.setdefault("retry_on_error", [RedisConnectionError])
    if address is not None:
        return BlockingConnectionPool.from_url(address, **limits, **options)
    master_name = options.pop("master_name", None)
    if master_name is not None:
        sentinel = Sentinel(
            options.pop("sentinels"), sentinel_kwargs=options.pop("sentinel_kwargs", None)
        )
        return BlockingSentinelConnectionPool(master_name, sentinel, **limits, **options)
    return BlockingConnectionPool(**limits, **options)


class RedisChannelLayer(BaseRedisChannelLayer):
    """channels-redis with a configurable blocking-receive time (`brpop_timeout`, seconds),
    which must stay below every host's `socket_timeout`; blocking connection pools of
    `max_connections` each, whose callers wait up to `pool_timeout` seconds for a free one;
    and a process's backlog received `receive_batch` messages per round trip."""

    def __init__(
        self,
        *args,
        brpop_timeout: int = 1,
        max_connections: int | None = None,
        pool_timeout: float | None = None,
        receive_batch: int = 100,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.brpop_timeout = brpop_timeout
        self.receive_batch = receive_batch
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        for host in self.hosts:
            socket_timeout = host.get("socket_timeout")
            if socket_timeout is not None and socket_timeout <= brpop_timeout:
                raise ImproperlyConfigured(
                    f"channel layer: socket_timeout ({socket_timeout}s) must exceed "
                    f"brpop_timeout ({brpop_timeout}s), or every idle receive times out"
                )

    def create_pool(self, index: int) -> BlockingConnectionPool:
        return blocking_pool(
            max_connections=self.max_connections, timeout=self.pool_timeout, **self.hosts[index]
        )

    async def receive_single(self, channel: str) -> tuple[str | list[str], dict[str, Any]]:
        """The next message of this process's channel key, taking a backlog in batches.

        channels-redis spends four Redis round trips on every message it receives (its
        backup-queue script, BZPOPMIN, ZADD to the backup, ZPOPMIN from it), one message
        (with the list of this process's sockets it is for) at a time. On a busy event loop
        each round trip waits its turn, and a process popped fewer messages than a 40/s room
        sent: live frames fell further and further behind (fault scenario a saw sockets get
        4 of 400 messages live; the rest only by back-fill). Here a backlog leaves in one
        ZPOPMIN of up to `receive_batch` messages; only an empty key falls back to
        channels-redis's blocking receive. The batch goes into the sockets' buffers in order,
        with no await between the pop and that, so a cancelled receive loses nothing (a
        connection lost mid-reply fails the call, which closes the sockets for a resync)."""
        if "!" not in channel or self.receive_batch <= 1:
            return await super().receive_single(channel)
        connection = self.connection(self.consistent_hash(channel))
        popped = await connection.zpopmin(self.prefix + channel, self.receive_batch)
        if not popped:
            return await super().receive_single(channel)
        routed = [self._unpack(channel, member) for member, _score in popped]
        # `receive` buffers what this returns: return the last, so that each socket's events
        # stay in order.
        for targets, message in routed[:-1]:
            for target in targets if isinstance(targets, list) else [targets]:
                self.receive_buffer[target].put_nowait(message)
        return routed[-1]

    def _unpack(self, channel: str, content: bytes) -> tuple[str | list[str], dict[str, Any]]:
        """A message and whom it is for: one channel, or several of this process's (a group
        send names all its members on one process in one message)."""
        message = self.deserialize(content)
        return message.pop("__asgi_channel__", channel), message


# --- the failure epoch ------------------------------------------------------------------

_lock = threading.Lock()
# When the latest failed call *started* (time.monotonic()). A socket subscribed after a failed
# call started loses nothing by that failure: the call's event (a message already committed)
# is in the back-fill the client makes once its socket is open.
_failed_call_started = float("-inf")
# One event per event loop that has waiters; set (and dropped) by each failure.
_events: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
    weakref.WeakKeyDictionary()
)


def layer_epoch() -> float:
    """Now, as the failure clock counts: a socket records it when it subscribes."""
    return time.monotonic()


def note_layer_failure(*, started: float | None = None) -> None:
    """Record that a channel-layer call failed in this process (callable from any thread);
    `started`: when that call began (default: now). Sockets subscribed before it began are
    closed by their watchers: they may have missed its event. (After a Redis restart, calls
    that began during the outage still fail for a few seconds; sockets that subscribed on
    the restarted Redis meanwhile stay open, instead of being closed again and again.)"""
    global _failed_call_started
    metrics.LAYER_FAILURES.inc()
    started = time.monotonic() if started is None else started
    with _lock:
        _failed_call_started = max(_failed_call_started, started)
        waiting = list(_events.items())
        _events.clear()
    for loop, event in waiting:
        # RuntimeError: that loop is closed, so nobody waits on it any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)


async def wait_for_layer_failure(*, since: float, timeout: float) -> bool:
    """Wait up to `timeout` seconds; True as soon as a call that began after `since` (a
    `layer_epoch()`) is noted as failed."""
    loop = asyncio.get_running_loop()
    with _lock:
        if _failed_call_started > since:
            return True
        event = _events.get(loop)
        if event is None:
            event = _events[loop] = asyncio.Event()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
    return _failed_call_started > since


# --- group membership -------------------------------------------------------------------


async def refresh_memberships(layer, groups: Iterable[str], channel: str) -> bool:
    """Re-add `channel` to `groups` now (so `group_expiry` never drops a live socket) and
    return whether any of those memberships had been lost. One pipelined round trip per
    Redis shard; other layers just get `group_add` and cannot tell."""
    groups = list(groups)
    if not isinstance(layer, BaseRedisChannelLayer):
        for group in groups:
            await layer.group_add(group, channel)
        return False
    by_shard: dict[int, list[str]] = defaultdict(list)
    for group in groups:
        by_shard[layer.consistent_hash(group)].append(group)
    lost = False
    now = time.time()
    for index, shard_groups in by_shard.items():
        async with layer.connection(index).pipeline(transaction=False) as pipe:
            for group in shard_groups:
                key = layer._group_key(group)  # the key group_add writes (channels-redis 4)
                pipe.zadd(key, {channel: now})
                pipe.expire(key, layer.group_expiry)
            results = await pipe.execute()
        # ZADD answers how many members were *new*: 1 means the socket had dropped out.
        lost = lost or any(results[0::2])
    return lost


async def group_send_retrying(layer, group: str, event: dict[str, Any]) -> None:
    """`group_send`, tried a second time at once if it fails: after a Redis restart the first
    call on each pooled connection fails (the connection is stale) and the second succeeds.
    Without the retry every such failure closes every socket of the process for a resync.
    A duplicate is harmless (clients render each message id once)."""
    try:
        await layer.group_send(group, event)
    except Exception:
        await layer.group_send(group, event)


async def group_send_to_listeners(layer, groups: Iterable[str], event: dict[str, Any]) -> None:
    """`group_send` to each of `groups` that has a member, without the two round trips
    channels-redis spends on each empty one: the members are counted for all groups in one
    pipelined round trip per Redis shard first. (A message's unread nudge goes to every other
    reader's group, and most readers have no notifications socket open: 19 empty groups
    cost 38 Redis round trips per message in a 20-member room.) A socket that joins a group
    after the count was taken fetches its state after joining, so it misses nothing.
    Other layers: `group_send` to each group."""
    groups = list(dict.fromkeys(groups))
    if isinstance(layer, BaseRedisChannelLayer):
        groups = await _groups_with_members(layer, groups)
    results = await asyncio.gather(
        *(layer.group_send(group, dict(event)) for group in groups), return_exceptions=True
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]


async def _groups_with_members(layer: BaseRedisChannelLayer, groups: list[str]) -> list[str]:
    by_shard: dict[int, list[str]] = defaultdict(list)
    for group in groups:
        by_shard[layer.consistent_hash(group)].append(group)
    # Memberships older than group_expiry count as gone, as group_send itself discards them.
    live_since = int(time.time()) - layer.group_expiry
    listened: list[str] = []
    for index, shard_groups in by_shard.items():
        async with layer.connection(index).pipeline(transaction=False) as pipe:
            for group in shard_groups:
                pipe.zcount(layer._group_key(group), live_since, "+inf")
            counts = await pipe.execute()
        listened += [group for group, count in zip(shard_groups, counts, strict=True) if count]
    return listened


# --- sending from sync code without waiting ----------------------------------------------

LAYER_CALL_TIMEOUT = 5.0  # above the Redis connect + socket timeouts, which fail first

# Per event loop: key -> the last send queued under it (the next one waits for it).
_tails: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task]] = (
    weakref.WeakKeyDictionary()
)
_sending: set[asyncio.Task] = set()  # a reference keeps each send alive until it is done


def send_from_sync(
    send: Callable[[], Awaitable[None]],
    *,
    what: str,
    order_keys: Iterable[str] = (),
    on_lost: Callable[[], None] | None = None,
) -> None:
    """Run the channel-layer coroutine `send()` from sync code; `what` names it in the log.

    In a thread that sync_to_async started (daphne's views, the consumers' database calls),
    it is handed to the server's event loop and this thread goes on at once: a post no longer
    holds its request or database thread while the loop gets round to the group send (under
    load a third of the database threads' busy time went to that wait).

    Order: sends handed over by one thread leave one after the other in that order (a
    service's "member_removed" frame still reaches the board before the access signal that
    closes the removed member's socket), and so do sends under one of `order_keys` (a
    group: the room's messages leave in the order they were committed).

    Elsewhere (no server loop: a task, a command, a test) it runs here and now. A send that
    fails, hangs past LAYER_CALL_TIMEOUT or finds the server's loop stopped (shutting down)
    is logged, never raised, and `on_lost` is called. By default this process's sockets
    subscribed before the hand-over resync, as they may have missed it; a socket that
    subscribed after it back-fills what was committed before it, and is left alone. (Noting
    the failure as of when it was seen, up to LAYER_CALL_TIMEOUT after a Redis outage began,
    closed the sockets that had just reconnected to the restarted Redis a second time.)"""
    if on_lost is None:
        on_lost = functools.partial(note_layer_failure, started=time.monotonic())
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)  # asgiref's record
    if loop is None:
        async_to_sync(_send_after)(set(), send, what, on_lost)
        return
    keys = (_thread_key(), *order_keys)
    try:
        if not loop.is_running():
            raise RuntimeError("the server's event loop has stopped")
        loop.call_soon_threadsafe(_queue_send, loop, send, what, keys, on_lost)
    except RuntimeError:  # stopped, or closed meanwhile
        logger.warning("%s was dropped: the event loop has stopped", what)
        on_lost()


_threads = threading.local()
_thread_numbers = itertools.count()


def _thread_key() -> str:
    """This thread's own order key (not its ident: a finished thread's ident is reused)."""
    key = getattr(_threads, "key", None)
    if key is None:
        key = _threads.key = f"thread:{next(_thread_numbers)}"
    return key


def _queue_send(
    loop: asyncio.AbstractEventLoop,
    send: Callable[[], Awaitable[None]],
    what: str,
    keys: tuple[str, ...],
    on_lost: Callable[[], None],
) -> None:
    tails = _tails.setdefault(loop, {})
    previous = {tails[key] for key in keys if key in tails}
    task = loop.create_task(_send_after(previous, send, what, on_lost))
    _sending.add(task)
    task.add_done_callback(_sending.discard)
    for key in keys:
        tails[key] = task
    task.add_done_callback(lambda done: _forget(tails, keys, done))


def _forget(tails: dict[str, asyncio.Task], keys: tuple[str, ...], done: asyncio.Task) -> None:
    for key in keys:
        if tails.get(key) is done:
            del tails[key]


async def _send_after(
    previous: set[asyncio.Task],
    send: Callable[[], Awaitable[None]],
    what: str,
    on_lost: Callable[[], None],
) -> None:
    if previous:
        await asyncio.wait(previous)  # their outcome is their own business
    try:
        await asyncio.wait_for(send(), timeout=LAYER_CALL_TIMEOUT)
    except Exception:  # a layer failure, or TimeoutError
        logger.warning("%s failed", what, exc_info=True)
        on_lost()
