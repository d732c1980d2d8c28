"""messaging.layers without Redis: the failure epoch that closes sockets for a resync, the
membership refresh on other layers, the bounded sync-to-layer call, and the receive/socket
timeout guard; and, with Redis (services tier), the connection pool that makes a burst of
layer calls wait for a free connection instead of failing. (The other Redis-specific paths run
in the services and fault tiers.)"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import pytest_asyncio
from asgiref.sync import SyncToAsync
from channels.layers import InMemoryChannelLayer
from django.core.exceptions import ImproperlyConfigured

from messaging import layers


def test_a_blocking_receive_longer_than_the_socket_timeout_is_refused():
    host = {"address": "redis://127.0.0.1:1/0", "socket_timeout": 1.0}
    with pytest.raises(ImproperlyConfigured, match="must exceed brpop_timeout"):
        layers.RedisChannelLayer(hosts=[host], brpop_timeout=1)
    layer = layers.RedisChannelLayer(hosts=[{**host, "socket_timeout": 2.0}], brpop_timeout=1)
    assert layer.brpop_timeout == 1


@pytest.mark.asyncio
async def test_only_a_call_that_began_after_subscribing_counts_as_missed():
    """A socket subscribed at `since` missed nothing by a failed call that began before it
    (its back-fill covers that call's event), and is told of one that began after it."""
    started_before = layers.layer_epoch()
    since = layers.layer_epoch()
    layers.note_layer_failure(started=started_before)
    assert await layers.wait_for_layer_failure(since=since, timeout=0.05) is False
    layers.note_layer_failure()  # began now: after `since`
    assert await layers.wait_for_layer_failure(since=since, timeout=0.05) is True


@pytest.mark.asyncio
async def test_a_waiter_returns_at_once_for_a_failure_it_missed():
    since = layers.layer_epoch()
    layers.note_layer_failure()
    assert await asyncio.wait_for(layers.wait_for_layer_failure(since=since, timeout=30), 1)


@pytest.mark.asyncio
async def test_a_waiter_times_out_when_nothing_fails():
    since = layers.layer_epoch()
    assert await layers.wait_for_layer_failure(since=since, timeout=0.05) is False


@pytest.mark.asyncio
async def test_a_failure_noted_in_another_thread_wakes_the_waiter():
    since = layers.layer_epoch()
    waiter = asyncio.ensure_future(layers.wait_for_layer_failure(since=since, timeout=30))
    await asyncio.sleep(0)  # let it start waiting
    thread = threading.Thread(target=layers.note_layer_failure)
    thread.start()
    assert await asyncio.wait_for(waiter, 5) is True
    thread.join()


@pytest.mark.asyncio
async def test_refresh_on_a_layer_without_membership_data_re_adds_and_reports_nothing_lost():
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    lost = await layers.refresh_memberships(layer, ["room_1", "user_2"], channel)
    assert lost is False
    await layer.group_send("room_1", {"type": "hello"})
    assert (await asyncio.wait_for(layer.receive(channel), 1)) == {"type": "hello"}


def test_a_send_from_sync_code_without_a_server_loop_runs_at_once():
    sent = []

    async def send() -> None:
        sent.append(asyncio.get_running_loop())

    layers.send_from_sync(send, what="a test send")
    assert len(sent) == 1


def test_a_failed_send_is_logged_and_noted_not_raised(caplog):
    """The services' on-commit sends never raise into their commit: a layer failure is
    logged and `on_lost` (by default: this process's sockets resync) is called."""
    lost = []

    async def send() -> None:
        raise ConnectionError("Redis is gone")

    layers.send_from_sync(send, what="broadcast to room_1", on_lost=lambda: lost.append(True))
    assert lost == [True]
    assert "broadcast to room_1 failed" in caplog.text


@pytest.fixture
def server_loop():
    """A running event loop in another thread, registered the way daphne's thread is."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    SyncToAsync.threadlocal.main_event_loop = loop
    yield loop
    del SyncToAsync.threadlocal.main_event_loop

    async def cancel_the_rest() -> None:
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(cancel_the_rest(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_a_send_from_sync_code_leaves_from_the_server_loop_without_waiting(server_loop):
    """The caller (a request or database thread) goes on while the send waits for its turn."""
    gate = threading.Event()
    done = threading.Event()
    where = []

    async def send() -> None:
        where.append(asyncio.get_running_loop())
        await asyncio.get_running_loop().run_in_executor(None, gate.wait, 5)
        done.set()

    layers.send_from_sync(send, what="a test send")
    assert not done.is_set()  # returned while the send is still held at the gate
    gate.set()
    assert done.wait(5)
    assert where == [server_loop]


def test_sends_leave_in_order_per_group_and_per_handing_thread(server_loop):
    """A room's broadcasts leave in the order they were handed over, though the first one's
    Redis call is slow; so do one thread's sends to different groups (the board hears
    "member_removed" before the access signal that closes the member's socket). Sends that
    share neither a group nor a thread do not wait for each other."""
    order: list[str] = []
    slow = threading.Event()

    def sender(name: str, wait: threading.Event | None = None):
        async def send() -> None:
            if wait is not None:
                await asyncio.get_running_loop().run_in_executor(None, wait.wait, 5)
            order.append(name)

        return send

    def from_another_thread(name: str, group: str) -> None:
        SyncToAsync.threadlocal.main_event_loop = server_loop  # as asgiref records it
        layers.send_from_sync(sender(name), what="a test send", order_keys=[group])

    def in_another_thread(name: str, group: str) -> None:
        thread = threading.Thread(target=from_another_thread, args=(name, group))
        thread.start()
        thread.join(5)

    def sent(count: int) -> None:
        async def wait() -> None:
            while len(order) < count:
                await asyncio.sleep(0.01)

        asyncio.run_coroutine_threadsafe(wait(), server_loop).result(5)

    layers.send_from_sync(sender("room 1, first", slow), what="a test send", order_keys=["room_1"])
    in_another_thread("room 1, second", "room_1")
    in_another_thread("room 2", "room_2")
    # This thread's next send, to another group:
    layers.send_from_sync(sender("user 3"), what="a test send", order_keys=["user_3"])
    sent(1)
    assert order == ["room 2"]  # the rest wait for the slow first send of room 1
    slow.set()
    sent(4)
    assert order.index("room 1, first") < order.index("room 1, second")
    assert order.index("room 1, first") < order.index("user 3")


def test_a_send_that_never_finishes_is_given_up_and_noted(server_loop, monkeypatch):
    monkeypatch.setattr(layers, "LAYER_CALL_TIMEOUT", 0.2)
    lost = threading.Event()

    async def hang() -> None:
        await asyncio.Event().wait()

    layers.send_from_sync(hang, what="a test send", on_lost=lost.set)
    assert lost.wait(5)


def test_a_lost_send_resyncs_only_the_sockets_subscribed_before_it_was_handed_over(
    server_loop, monkeypatch
):
    """Redis dies and a send handed over then hangs until LAYER_CALL_TIMEOUT. A socket that
    reconnected meanwhile back-fills what was committed before it subscribed, so the send's
    failure leaves it open; a socket subscribed before the hand-over is closed to resync.
    (ci on 2ac3691: the failure was dated when seen, and fault scenario (a)'s reconnected
    sockets were closed a second time, 5 s into the restarted Redis.)"""
    monkeypatch.setattr(layers, "LAYER_CALL_TIMEOUT", 0.2)

    async def hang() -> None:
        await asyncio.Event().wait()

    subscribed_before = layers.layer_epoch()
    layers.send_from_sync(hang, what="a test send")
    subscribed_after = layers.layer_epoch()  # reconnected while the send hangs

    async def told() -> tuple[bool, bool]:
        before = await layers.wait_for_layer_failure(since=subscribed_before, timeout=5)
        after = await layers.wait_for_layer_failure(since=subscribed_after, timeout=0)
        return before, after

    assert asyncio.run_coroutine_threadsafe(told(), server_loop).result(10) == (True, False)


def test_a_send_to_a_stopped_server_loop_is_noted_lost_at_once():
    loop = asyncio.new_event_loop()
    SyncToAsync.threadlocal.main_event_loop = loop
    lost = []

    async def send() -> None:
        raise AssertionError("a stopped loop runs nothing")

    try:
        layers.send_from_sync(send, what="a test send", on_lost=lambda: lost.append(True))
    finally:
        del SyncToAsync.threadlocal.main_event_loop
        loop.close()
    assert lost == [True]


@pytest_asyncio.fixture
async def redis_layer(redis_url):
    """Makes Redis channel layers, each under its own key prefix; flushes them afterwards."""
    made: list[layers.RedisChannelLayer] = []

    def make(**options) -> layers.RedisChannelLayer:
        options.setdefault("hosts", [{"address": redis_url}])
        options.setdefault("prefix", f"test-{uuid.uuid4().hex[:8]}")
        made.append(layers.RedisChannelLayer(**options))
        return made[-1]

    yield make
    for layer in made:
        await layer.flush()


@pytest_asyncio.fixture
async def redis_admin(redis_url):
    """A plain Redis client, for what a test inspects or breaks behind the layer's back."""
    import redis.asyncio as aioredis

    admin = aioredis.Redis.from_url(redis_url)
    yield admin
    await admin.aclose()


@pytest.mark.services
@pytest.mark.asyncio
async def test_a_burst_of_layer_calls_waits_for_pooled_connections_instead_of_failing(
    redis_layer,
):
    """100 sockets subscribing at once on a restarted daphne ran the layer out of pooled
    connections: redis-py's default pool raised "Too many connections", every failure closed
    the process's sockets for a resync, and a failed group_send lost its event for sockets in
    other processes. Now callers queue for a connection: all 60 joins and the send succeed
    through a pool of 2."""
    layer = redis_layer(max_connections=2, pool_timeout=10)
    channels = [await layer.new_channel() for _ in range(60)]
    await asyncio.gather(*(layer.group_add("room_1", channel) for channel in channels))
    await layer.group_send("room_1", {"type": "hello"})
    received = await asyncio.wait_for(
        asyncio.gather(*(layer.receive(channel) for channel in channels)), 10
    )
    assert received == [{"type": "hello"}] * 60
    pool = layer.connection(0).connection_pool
    assert pool.max_connections == 2


@pytest.mark.services
@pytest.mark.asyncio
async def test_a_pooled_connection_the_server_dropped_is_replaced_without_failing_the_call(
    redis_url, redis_layer, redis_admin
):
    """After a Redis restart every pooled connection is stale, and each one failed its next
    call: every such failure closed the process's sockets for a resync, again and again,
    including sockets that had just reconnected (fault scenario a). Now a call whose
    connection turns out dropped is tried once more on a new one."""
    name = f"layer-{uuid.uuid4().hex[:8]}"
    layer = redis_layer(hosts=[{"address": redis_url, "client_name": name}])
    channel = await layer.new_channel()
    await layer.group_add("room_1", channel)
    clients = await redis_admin.client_list()
    pooled = [c["id"] for c in clients if c.get("name") == name]
    assert pooled, "the layer's connections carry its client name"
    for client_id in pooled:
        await redis_admin.client_kill_filter(_id=client_id)
    await layer.group_send("room_1", {"type": "after.restart"})
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "after.restart"}


@pytest.mark.services
@pytest.mark.asyncio
async def test_a_backlog_reaches_each_socket_in_order_a_batch_per_round_trip(
    redis_layer, redis_admin
):
    """channels-redis spent four Redis round trips per received message; a busy process fell
    behind its room. A backlog of 300 events for 3 sockets of one process now arrives
    complete and in order per socket, in batches: a handful of ZPOPMIN calls, not 300
    BZPOPMIN ones."""
    layer = redis_layer(receive_batch=100, capacity=1000)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("room_1", channel)
    for n in range(300):
        await layer.group_send("room_1", {"type": "chat.message", "n": n})
    await redis_admin.config_resetstat()

    async def drain(channel: str) -> list[int]:
        return [(await layer.receive(channel))["n"] for _ in range(300)]

    got = await asyncio.wait_for(asyncio.gather(*(drain(c) for c in channels)), 20)
    stats = await redis_admin.info("commandstats")
    assert got == [list(range(300))] * 3
    assert stats.get("cmdstat_zpopmin", {}).get("calls", 0) <= 10
    assert stats.get("cmdstat_bzpopmin", {}).get("calls", 0) <= 3


@pytest.mark.services
@pytest.mark.asyncio
async def test_an_event_for_many_groups_reaches_every_member_of_each_non_empty_one(redis_layer):
    """`group_send_to_listeners` (a message's unread nudge to every other reader) counts the
    groups' members in one round trip and sends only where someone listens: each member of
    each listened group gets the event once; empty and expired groups cost no send."""
    layer = redis_layer(group_expiry=60)
    alone, pair_1, pair_2 = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("unread_1", alone)
    await layer.group_add("unread_2", pair_1)
    await layer.group_add("unread_2", pair_2)
    groups = ["unread_1", "unread_2", *(f"unread_{n}" for n in range(3, 20))]
    await layers.group_send_to_listeners(layer, groups, {"type": "room.activity", "room_id": 7})
    for channel in (alone, pair_1, pair_2):
        event = await asyncio.wait_for(layer.receive(channel), 5)
        assert event == {"type": "room.activity", "room_id": 7}
    # Once each: the next thing `alone` hears is a marker sent after the event.
    await layer.send(alone, {"type": "marker"})
    assert await asyncio.wait_for(layer.receive(alone), 5) == {"type": "marker"}


@pytest.mark.asyncio
async def test_an_event_for_many_groups_on_the_in_memory_layer_reaches_each_member():
    layer = InMemoryChannelLayer()
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("unread_1", first)
    await layer.group_add("unread_2", second)
    await layers.group_send_to_listeners(layer, ["unread_1", "unread_2", "unread_3"], {"type": "x"})
    assert await asyncio.wait_for(layer.receive(first), 1) == {"type": "x"}
    assert await asyncio.wait_for(layer.receive(second), 1) == {"type": "x"}
