"""kanban_board.serve: every daphne launch gets the WebSocket limits from settings."""

from kanban_board.serve import ASGI_APP, daphne_args


def test_limits_come_from_settings(settings):
    settings.WEBSOCKET_TIMEOUT = 123
    settings.WEBSOCKET_MAX_MESSAGE_BYTES = 4096

    args = daphne_args(["-b", "127.0.0.1", "-p", "8123"])

    assert args[-1] == ASGI_APP
    assert args[args.index("--websocket_timeout") + 1] == "123"
    assert args[args.index("--websocket-max-message-size") + 1] == "4096"
    assert args[args.index("--websocket-max-frame-size") + 1] == "4096"
    assert args[args.index("-p") + 1] == "8123"


def test_an_explicit_argument_replaces_the_default(settings):
    settings.WEBSOCKET_TIMEOUT = 123

    args = daphne_args(["--websocket_timeout", "5"])

    assert args.count("--websocket_timeout") == 1
    assert args[args.index("--websocket_timeout") + 1] == "5"


def test_the_server_freezes_what_it_loaded_so_full_collections_skip_it():
    """Issue 16: a full garbage collection walked Django and every app module (150,000
    objects) and stalled every socket of the process for 50-270 ms. The server moves them
    out of the collector's way once loaded (a fresh interpreter, as `serve` runs)."""
    import subprocess
    import sys

    code = (
        "import gc, django, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kanban_board.settings');"
        "django.setup();"
        "from kanban_board.serve import freeze_startup_objects;"
        "import kanban_board.asgi;"
        "before = len(gc.get_objects());"
        "freeze_startup_objects();"
        "print(before, gc.get_freeze_count(), len(gc.get_objects()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    before, frozen, left = map(int, result.stdout.split()[-3:])
    assert frozen >= before * 0.9  # (a collection may free a few)
    assert left < before / 20
