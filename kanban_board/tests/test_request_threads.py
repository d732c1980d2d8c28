"""HTTP requests' sync work on reused threads (kanban_board.request_threads, issue 16)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator

from kanban_board.request_threads import RequestThreads

pytestmark = pytest.mark.asyncio


class SyncWorkApp:
    """An ASGI app whose request does its work in thread-sensitive sync code, as Django's
    handler does; it answers with the id of the thread that work ran on. A request for
    /wait holds its thread until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = threading.Event()

    def work(self, path: str) -> int:
        if path == "/wait":
            self.waiting.set()
            self.release.wait(10)
        return threading.get_ident()

    async def __call__(self, scope, receive, send) -> None:
        await receive()
        ident = await sync_to_async(self.work, thread_sensitive=True)(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(ident).encode()})


async def get(app, path: str = "/") -> int:
    communicator = HttpCommunicator(app, "GET", path)
    response = await communicator.get_response(timeout=5)
    assert response["status"] == 200
    return int(response["body"])


async def until(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_requests_one_after_another_reuse_one_thread_off_the_event_loop():
    app = RequestThreads(SyncWorkApp())
    threads = []
    for _ in range(20):
        threads.append(await get(app))
        await until(lambda: len(app.idle) == 1)  # the request is over, its thread free again
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


async def test_concurrent_requests_each_get_a_thread_of_their_own():
    inner = SyncWorkApp()
    app = RequestThreads(inner)
    held = asyncio.create_task(get(app, "/wait"))
    await until(inner.waiting.is_set)
    other = await get(app)  # answered while /wait still holds its thread
    assert not held.done()
    inner.release.set()
    assert await held != other


async def test_a_request_cut_off_mid_work_keeps_its_thread_until_the_work_is_done():
    """A client that goes away does not hand its still-busy thread to the next request."""
    inner = SyncWorkApp()
    app = RequestThreads(inner)
    held = asyncio.create_task(get(app, "/wait"))
    await until(inner.waiting.is_set)
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert app.idle == []  # still busy with the cut-off request's work
    assert isinstance(await get(app), int)  # served meanwhile, on another thread
    inner.release.set()
    await until(lambda: len(app.idle) == 2)


async def test_idle_threads_beyond_the_keep_limit_are_let_go():
    inner = SyncWorkApp()
    app = RequestThreads(inner, keep_idle=1)
    held = asyncio.create_task(get(app, "/wait"))
    await until(inner.waiting.is_set)
    threads = {await get(app)}
    inner.release.set()
    threads.add(await held)
    assert len(threads) == 2

    def alive() -> set[int]:
        return threads & {thread.ident for thread in threading.enumerate()}

    await until(lambda: len(alive()) == 1)  # one kept for the next request, one ended
    assert len(app.idle) == 1


@pytest.mark.django_db(transaction=True)
async def test_django_answers_through_the_reused_threads():
    from kanban_board.asgi import application

    for _ in range(3):
        communicator = HttpCommunicator(
            application, "GET", "/healthz", headers=[(b"host", b"localhost")]
        )
        response = await communicator.get_response(timeout=5)
        assert response["status"] == 200
