"""HTTP requests' synchronous work on reused threads (issue 16).

Django's ASGI handler gives every request a thread of its own (asgiref's
`ThreadSensitiveContext`): it creates a one-thread executor for the request and, when the
request ends, starts another thread to join it. That is two thread starts per request, both on
the event loop, which waits for each new thread to run: a profile of a busy daphne put about a
tenth of the loop's time there, time its sockets' deliveries then waited for.

`RequestThreads` keeps the same isolation (one request's sync work runs on one thread that no
other request uses meanwhile) but takes that thread from a free list and puts it back once the
request is over and the thread has finished everything the request gave it. A request cut off
while its view still runs (client gone) keeps its thread until the view returns, exactly as
before; nobody else waits behind it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext

# Idle request threads kept for reuse; a burst above this creates more, and lets them go after.
KEEP_IDLE = 32


def _nothing() -> None:
    return None


class RequestThreads:
    """ASGI middleware for the "http" scope: each request runs in a thread-sensitive context
    whose executor is a one-thread executor taken from a free list."""

    def __init__(self, app, *, keep_idle: int = KEEP_IDLE) -> None:
        self.app = app
        self.keep_idle = keep_idle
        self.idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        if self.idle:
            return self.idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="http-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """Back on the free list once every call the request queued on it has run: a no-op
        submitted behind them tells when (at once for the usual finished request)."""
        loop = asyncio.get_running_loop()

        def idle_now(_future) -> None:
            try:
                loop.call_soon_threadsafe(self.release, executor)
            except RuntimeError:  # the loop closed meanwhile (server stopping)
                executor.shutdown(wait=False)

        executor.submit(_nothing).add_done_callback(idle_now)

    def release(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < self.keep_idle:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        executor = self.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            self.give_back(executor)
