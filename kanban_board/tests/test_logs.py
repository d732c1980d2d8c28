"""LOG_FORMAT=json: one JSON object per line, carrying the request id (the proxy's
X-Request-ID, or a fresh one, echoed in the response) and the user id."""

from __future__ import annotations

import json
import logging

import pytest
from django.urls import reverse

from kanban_board.logs import JsonFormatter, RequestContextFilter


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestContextFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured():
    handler = Captured()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_a_log_line_inside_a_request_names_the_request_and_the_user(alice_client, alice, captured):
    response = alice_client.get(
        reverse("kanban:board_detail", args=[987654]), HTTP_X_REQUEST_ID="req-42"
    )

    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "req-42"
    [line] = captured.lines  # django.request: "Not Found: ..."
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "django.request"
    assert entry["message"].startswith("Not Found: /")
    assert (entry["request_id"], entry["user_id"]) == ("req-42", alice.pk)


@pytest.mark.django_db
def test_each_request_gets_its_own_id_and_junk_ids_are_replaced(client):
    first = client.get("/accounts/login/").headers["X-Request-ID"]
    second = client.get("/accounts/login/").headers["X-Request-ID"]
    junk = client.get("/accounts/login/", HTTP_X_REQUEST_ID="a b\nc").headers["X-Request-ID"]
    assert len({first, second, junk}) == 3
    assert "\n" not in junk and " " not in junk


def test_outside_a_request_the_ids_are_null():
    handler = Captured()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    entry = json.loads(handler.format(record) if handler.filter(record) else "{}")
    assert entry["message"] == "hello world"
    assert (entry["request_id"], entry["user_id"]) == (None, None)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_user_is_read_off_the_event_loop(async_client, alice, captured):
    """daphne runs the middleware chain async: reading the session there must not touch the
    database from the event loop (it raised SynchronousOnlyOperation: a 500 on every page)."""
    await async_client.aforce_login(alice)
    response = await async_client.get(
        reverse("kanban:board_detail", args=[987654]), headers={"X-Request-ID": "req-43"}
    )

    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "req-43"
    entry = json.loads(captured.lines[-1])
    assert (entry["request_id"], entry["user_id"]) == ("req-43", alice.pk)
