"""Webhooks in a real browser against a live daphne (which may call the local receiver): a
room member adds an incoming webhook, a curl-like POST shows up live with the bot badge on
another member's page; the board admin subscribes the receiver, sends a test ping and reads
the delivery log. Screenshots under TASKFLOW_SCREENSHOTS."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, UserFactory

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def hooks_daphne(django_db_setup, django_db_blocker):
    """A daphne of our own: its webhooks may call 127.0.0.1 (the receiver)."""
    from django.db import connection

    from tests.live import DaphneServer, database_url_for

    with django_db_blocker.unblock():
        url = database_url_for(connection.settings_dict)
    server = DaphneServer(
        database_url=url,
        extra_env={"WEBHOOKS_ALLOW_PRIVATE_URLS": "true", "WEBHOOK_RETRY_BASE_SECONDS": "600"},
    ).start()
    yield server
    server.stop()


def open_as(browser: Browser, server, login_page, username: str, **context) -> tuple[Page, list]:
    ctx = browser.new_context(viewport=context.pop("viewport", {"width": 1100, "height": 900}))
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    login_page(page, server, username)
    return page, errors


def test_screenshot_webhooks_journey(
    transactional_db, browser, hooks_daphne, login_page, receiver, tmp_path
):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    alice = UserFactory(username="alice", display_name="Alice A.", theme="dark")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    ColumnFactory(board=board, name="To Do")
    room = ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])
    server = hooks_daphne

    # A room member adds an incoming webhook and copies its URL.
    page, errors = open_as(browser, server, login_page, "alice")
    page.goto(f"{server.url}{room.get_absolute_url()}")
    page.get_by_role("link", name="Webhooks").click()
    page.fill("#webhook-name", "Deploy bot")
    page.get_by_role("button", name="Add incoming webhook").click()
    hook_url = page.locator("input.webhook-url").input_value()
    assert hook_url.startswith(f"{hooks_daphne.url}/hooks/in/")
    page.screenshot(path=str(out_dir / "webhooks-room-dark.png"), full_page=True)

    # Bob has the room open; something POSTs to the URL; he sees it live, as a bot.
    bob_page, bob_errors = open_as(browser, server, login_page, "bob")
    bob_page.goto(f"{server.url}{room.get_absolute_url()}")
    expect(bob_page.locator("#connection-status")).to_have_text("Live")
    request = urllib.request.Request(
        hook_url,
        data=json.dumps({"text": "Deployed v1.4 to production, @bob"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 201
    message = bob_page.locator(".chat-msg", has_text="Deployed v1.4 to production")
    expect(message.locator(".author")).to_have_text("Deploy bot")
    expect(message.locator(".bot-badge")).to_be_visible()
    expect(message).to_have_class(re.compile("mentions-me"))
    bob_page.screenshot(path=str(out_dir / "webhooks-bot-message.png"))

    # The board admin subscribes the receiver, pings it and reads the log.
    page.goto(f"{server.url}{board.get_absolute_url()}")
    page.get_by_role("link", name="Webhooks").click()
    page.fill("#webhook-url", receiver.url)
    page.get_by_label("Task created").check()
    page.get_by_label("Message posted in a room").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator(".outgoing-webhook code.webhook-target")).to_have_text(receiver.url)
    page.get_by_role("button", name="Send test ping").click()
    expect(page.locator(".delivery-log tr.delivery td.status-code").first).to_have_text("200")
    [got] = receiver.wait_for(1)
    assert got.headers["X-TaskFlow-Event"] == "ping"
    page.screenshot(path=str(out_dir / "webhooks-board-dark.png"), full_page=True)

    phone, phone_errors = open_as(
        browser, server, login_page, "alice", viewport={"width": 390, "height": 844}
    )
    phone.goto(f"{server.url}/hooks/board/{board.pk}/")
    expect(phone.locator(".delivery-log")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    phone.screenshot(path=str(out_dir / "webhooks-board-phone-dark.png"), full_page=True)
    assert errors == bob_errors == phone_errors == []
