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
