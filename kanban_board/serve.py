"""Start daphne with TaskFlow's WebSocket settings: `python -m kanban_board.serve -b HOST -p PORT`.

Every launcher (make run, make run-scaled, docker-compose, the test fixtures) goes through here so
daphne's --websocket_timeout matches the channel layer's group_expiry and the message-size limit
is always set. Extra arguments are passed to daphne unchanged.
"""

from __future__ import annotations

import logging
import os
import sys

ASGI_APP = "kanban_board.asgi:application"


def daphne_args(extra: list[str]) -> list[str]:
    """daphne's command-line arguments (without the program name): limits from settings first,
    then `extra`, then the ASGI application."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
    from django.conf import settings

    size = str(settings.WEBSOCKET_MAX_MESSAGE_BYTES)
    limits = [
        "--websocket_timeout",
        str(settings.WEBSOCKET_TIMEOUT),
        "--websocket-max-message-size",
        size,
        "--websocket-max-frame-size",
        size,
    ]
    given = {arg.split("=", 1)[0] for arg in extra if arg.startswith("--")}
    pairs = [limits[i : i + 2] for i in range(0, len(limits), 2)]
    defaults = [item for pair in pairs if pair[0] not in given for item in pair]
    return [*defaults, *extra, ASGI_APP]


def main() -> None:
    from daphne.cli import CommandLineInterface

    args = daphne_args(sys.argv[1:])  # (configures Django's settings)
    from messaging.upload_limit import install_daphne_guard

    install_daphne_guard()  # issue 12: oversize uploads get 413 while they stream
    freeze_startup_objects()
    CommandLineInterface().run(args)
    exit_without_joining_threads()


def freeze_startup_objects() -> None:
    """Load the application, then move everything alive into the garbage collector's
    permanent generation (`gc.freeze()`), so that full collections stop walking it.

    A full collection walks every tracked object and holds the GIL throughout: with Django,
    the apps and their modules loaded that took 50-210 ms, over 20 times in two minutes
    of the benchmark's chat load, and each one stalled every socket of the process at
    once (the p99 of the sweep's steps). Startup objects live as long as the process, so
    the collector never frees any of them anyway (issue 16)."""
    import gc

    from django.urls import get_resolver

    import kanban_board.asgi  # noqa: F401  (Django set up, every app and consumer imported)

    get_resolver().url_patterns  # noqa: B018  (every view module imported)
    gc.collect()
    gc.freeze()


def exit_without_joining_threads(code: int = 0) -> None:
    """Exit once daphne has stopped (SIGTERM/SIGINT: listening ended, every connection's
    application cancelled), without waiting for the request threads.

    A request still in its thread at that moment (waiting on a row lock, or in Django's
    async_to_sync hop back to the stopped event loop) can never answer: its connection is
    gone. Interpreter exit would join those threads anyway, so daphne kept running until the
    supervisor's SIGKILL (5-10 s with open sockets: a restart's clients backed off for that
    long). Their transactions roll back when the connections close; clients retry what was
    not acknowledged and back-fill the rest."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
