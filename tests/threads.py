"""Two database sessions at once, for tests of what waits for what (PostgreSQL): one thread
holds a transaction open while another tries to get past it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, transaction


@contextlib.contextmanager
def held_transaction(work: Callable[[], Any], *, timeout: float = 30) -> Iterator[Any]:
    """Run `work()` in a transaction on another thread (its own connection) and keep that
    transaction open, locks held, until the block exits; it commits then. Yields the result
    of `work()` (an exception it raised is raised here)."""
    ready, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold() -> None:
        try:
            with transaction.atomic():
                outcome["value"] = work()
                ready.set()
                release.wait(timeout)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            ready.set()
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(timeout), "the held transaction's work did not finish"
        if "error" in outcome:
            raise outcome["error"]
        yield outcome["value"]
    finally:
        release.set()
        thread.join(timeout)


class Background:
    """`work()` on another thread with its own connection. `finished` is set once it has
    returned (`value`) or raised (`error`)."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.work = work
        self.finished = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.value = self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()
            self.finished.set()

    def join(self, timeout: float = 30) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the background work did not finish"
