"""Chat room and task thread journeys in a real browser (chromium) against a live daphne.

Each test logs two people in through the login form, in separate browser contexts, and checks
what each of them sees. Sockets are cut with Playwright's WebSocket routing, so the page code
needs no test hooks. Every page must finish without a JS error or a CSP violation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, Request, WebSocketRoute, expect

from messaging.models import ChatMessage
from messaging.services.posting import post_chat_message
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    ColumnFactory,
    TaskFactory,
    UserFactory,
)

from .browser import (
    LIVE_TIMEOUT_MS,
    SocketSwitch,
    Viewer,
    room_path,
    send_chat,
    side_by_side,
    task_path,
    wait_live,
)

pytestmark = pytest.mark.browser

IMG_PAYLOAD = "<img src=x onerror=alert(1)>"
SCRIPT_PAYLOAD = "<script>alert('xss')</script>"


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """Overrides messaging/tests/conftest.py's MD5 hasher for this module: the daphne child
    process runs with the real hashers and must verify the passwords these users log in with."""


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    """alice (board and room creator) and bob, both on the board and in #general; one task."""
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    column = ColumnFactory(board=board, name="Doing")
    task = TaskFactory(column=column, title="Ship the chat", created_by=alice)
    return SimpleNamespace(alice=alice, bob=bob, board=board, room=room, task=task)


@pytest.fixture
def open_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Viewer]]:
    """Factory: a fresh browser context logged in as `username`, showing `path`.

    `before_goto(page)` runs before the page is loaded (to route its WebSocket)."""
    contexts = []

    def open_page(
        username: str,
        path: str,
        *,
        width: int = 700,
        height: int = 820,
        before_goto: Callable[[Page], None] | None = None,
    ) -> Viewer:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        viewer = Viewer(page)
        page.on("pageerror", lambda exc: viewer.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                viewer.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.on("dialog", lambda dialog: (viewer.dialogs.append(dialog.message), dialog.dismiss()))
        login_page(page, live_daphne, username)
        if before_goto is not None:
            before_goto(page)
        page.goto(f"{live_daphne.url}{path}")
        return viewer

    yield open_page
    for context in contexts:
        context.close()


# --- journeys ---------------------------------------------------------------------------


def test_message_without_mention_reaches_other_member_live_with_typing_and_own_styling(
    team, open_as
):
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)

    send_chat(alice, "hello team")
    expect(bob.item("hello team")).to_have_count(1)
    expect(bob.item("hello team").locator(".author")).to_have_text("Alice A.")
    expect(bob.item("hello team")).not_to_have_class(re.compile(r"\bown\b"))
    expect(bob.item("hello team")).not_to_have_class(re.compile(r"\bmentions-me\b"))
    expect(alice.item("hello team")).to_have_class(re.compile(r"\bown\b"))
    expect(alice.item("hello team")).not_to_have_class(re.compile(r"\bpending\b"))

    bob.page.locator("#chat-input").press_sequentially("on it", delay=30)
    expect(alice.page.locator("#typing-indicator")).to_have_text("Bob B. is typing…")
    bob.page.locator("#chat-input").press("Enter")
    expect(alice.item("on it")).to_have_count(1)
    # Sending ends typing at once (stop_typing), without waiting for the expiry.
    expect(alice.page.locator("#typing-indicator")).to_have_text("")

    expect(bob.item("on it")).to_have_class(re.compile(r"\bown\b"))
    expect(alice.item("on it")).not_to_have_class(re.compile(r"\bown\b"))
    for viewer in (alice, bob):
        expect(viewer.log_items()).to_have_count(2)
        viewer.assert_clean()


def test_enter_picks_a_mention_while_the_menu_is_open_and_sends_otherwise(team, open_as):
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)

    box = alice.page.locator("#chat-input")
    box.press_sequentially("ping @bo", delay=20)
    expect(alice.page.locator(".tribute-container li", has_text="@bob")).to_be_visible()
    box.press("Enter")  # picks bob from the menu; must not send
    expect(box).to_have_value(re.compile(r"^ping @bob\s$"))
    expect(box).not_to_have_attribute("data-mention-menu-open", "true")
    box.press("Shift+Enter")  # a newline, not a send
    box.press_sequentially("second line", delay=10)
    expect(alice.log_items()).to_have_count(0)
    box.press("Enter")

    sent = re.compile(r"^ping @bob\s+second line$")
    bob_copy = bob.log_items().filter(has=bob.page.locator(".body", has_text=sent))
    expect(bob_copy).to_have_count(1)
    expect(bob_copy).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(box).to_have_value("")
    alice_copy = alice.log_items().filter(has=alice.page.locator(".body", has_text=sent))
    expect(alice_copy).to_have_class(re.compile(r"\bown\b"))
    expect(alice_copy).not_to_have_class(re.compile(r"\bmentions-me\b"))
    expect(alice.log_items()).to_have_count(1)
    alice.assert_clean()
    bob.assert_clean()


def test_comment_posted_on_task_page_appears_live_for_other_member(team, open_as):
    alice = open_as("alice", task_path(team.task))
    bob = open_as("bob", task_path(team.task))
    wait_live(alice, "#comment-connection-status")
    wait_live(bob, "#comment-connection-status")

    alice.page.locator("#comment-input").fill("Reviewed, looks good")
    alice.page.locator("#comment-form [type=submit]").click()

    comment = bob.item("Reviewed, looks good", "#comment-log .chat-msg")
    expect(comment).to_have_count(1)
    expect(comment.locator(".author")).to_have_text("Alice A.")
    expect(comment).to_have_attribute("id", re.compile(r"^comment-\d+$"))
    expect(alice.item("Reviewed, looks good", "#comment-log .chat-msg")).to_have_class(
        re.compile(r"\bown\b")
    )
    expect(alice.log_items("#comment-log .chat-msg")).to_have_count(1)
    alice.assert_clean()
    bob.assert_clean()


def test_markup_in_messages_shows_as_literal_text_and_never_runs(team, open_as):
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)

    send_chat(alice, IMG_PAYLOAD)
    send_chat(alice, SCRIPT_PAYLOAD)
    for payload in (IMG_PAYLOAD, SCRIPT_PAYLOAD):
        expect(bob.item(payload)).to_have_count(1)
        expect(bob.item(payload).locator(".body")).to_have_text(payload)
    assert bob.page.locator("#chat-log img, #chat-log script").count() == 0

    # The server-rendered history escapes it too.
    bob.page.reload()
    wait_live(bob)
    for payload in (IMG_PAYLOAD, SCRIPT_PAYLOAD):
        expect(bob.item(payload).locator(".body")).to_have_text(payload)
    assert bob.page.locator("#chat-log img, #chat-log script").count() == 0
    alice.assert_clean()
    bob.assert_clean()


def test_after_reconnect_missed_messages_arrive_in_order_and_queued_send_is_delivered_once(
    team, open_as
):
    switch = SocketSwitch()
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room), before_goto=switch.install)
    wait_live(alice)
    wait_live(bob)
    send_chat(alice, "before the drop")
    expect(bob.item("before the drop")).to_have_count(1)

    switch.cut()
    missed = [f"while bob was away {n}" for n in range(1, 4)]
    for text in missed:
        send_chat(alice, text)
        expect(alice.item(text)).not_to_have_class(re.compile(r"\bpending\b"))
    expect(bob.page.locator("#connection-status")).to_have_text(
        "Offline. Messages will be sent when you're back online."
    )
    # While the browser is offline the page spends no reconnect attempts (it waits for the
    # browser's "online" event instead).
    assert switch.attempts_while_down == 0
    for text in missed:
        expect(bob.item(text)).to_have_count(0)
    http_posts: list[str] = []
    # Sends only: the page also posts its read pointer (issue 11) as messages reach it.
    bob.page.on(
        "request",
        lambda r: http_posts.append(r.url) if r.method == "POST" and "/send/" in r.url else None,
    )
    send_chat(bob, "bob wrote this offline")
    queued = bob.item("bob wrote this offline")
    expect(queued).to_have_class(re.compile(r"\bpending\b"))

    switch.restore()
    expect(bob.page.locator("#connection-status")).to_have_text("Live", timeout=15_000)
    expect(queued).not_to_have_class(re.compile(r"\bpending\b"))
    expect(queued).to_have_attribute("id", re.compile(r"^message-\d+$"))
    expected = ["before the drop", *missed, "bob wrote this offline"]
    for viewer in (bob, alice):
        expect(viewer.log_items().locator(".body")).to_have_text(expected)
    assert http_posts == [], "the queued message should have gone over the socket"
    assert ChatMessage.objects.filter(content="bob wrote this offline").count() == 1
    ids = [
        int(i)
        for i in bob.page.eval_on_selector_all(
            "#chat-log .chat-msg", "els => els.map((el) => el.dataset.messageId)"
        )
    ]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    alice.assert_clean()
    bob.assert_clean()


AT_BOTTOM_JS = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 2"


def test_load_older_keeps_reading_position_and_live_items_scroll_only_at_bottom(team, open_as):
    for n in range(1, 61):
        post_chat_message(room=team.room, author=team.alice, content=f"history {n}")
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    log = bob.page.locator("#chat-log")
    expect(bob.log_items()).to_have_count(50)  # the latest page
    assert log.evaluate(AT_BOTTOM_JS), "the room opens at the latest message"

    log.evaluate("el => { el.scrollTop = 0; }")
    anchor = bob.item("history 11")
    # Position inside the log (the button above it disappears, moving the whole log).
    offset_js = "el => el.getBoundingClientRect().top - el.parentElement.getBoundingClientRect().y"
    top_before = anchor.evaluate(offset_js)
    older = bob.page.locator("#load-older")
    older.click()
    expect(bob.log_items()).to_have_count(60)
    expect(older).to_be_hidden()
    assert abs(anchor.evaluate(offset_js) - top_before) < 2
    expect(bob.log_items().locator(".body")).to_have_text([f"history {n}" for n in range(1, 61)])

    # Reading history: a new message must not yank the view down.
    scroll_top = log.evaluate("el => el.scrollTop")
    send_chat(alice, "while bob reads history")
    expect(bob.item("while bob reads history")).to_have_count(1)
    assert log.evaluate("el => el.scrollTop") == scroll_top
    # At the bottom: the next one is scrolled into view.
    log.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    send_chat(alice, "latest")
    expect(bob.item("latest")).to_be_in_viewport()
    assert log.evaluate(AT_BOTTOM_JS)
    alice.assert_clean()
    bob.assert_clean()


def test_unconfirmed_send_falls_back_to_http_without_duplicating(team, open_as):
    """The socket takes the message but the confirmation never comes back: after the outbox
    timeout the same client_id goes over HTTP, and the server returns the first row."""
    dropped: list[str] = []
    caught_up: list[str] = []

    def swallow_replies(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))
        server.on_message(lambda message: dropped.append(str(message)))

    def is_backfill(request: Request) -> bool:
        return "/history/" in request.url and "after=" in request.url

    def setup(page: Page) -> None:
        page.clock.install()
        page.route_web_socket(re.compile(r"/ws/chat-room/\d+/$"), swallow_replies)
        page.on("requestfinished", lambda r: caught_up.append(r.url) if is_backfill(r) else None)

    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room), before_goto=setup)
    wait_live(alice)
    wait_live(bob)
    # The socket's open-time back-fill must have been answered first: if it is still in
    # flight when the message lands, its answer holds the row and confirms the item without
    # any socket frame (ci on 66bc754 saw exactly that).
    if not caught_up:
        bob.page.wait_for_event("requestfinished", predicate=is_backfill)

    with bob.page.expect_request(lambda r: r.method == "POST" and "/send/" in r.url) as posted:
        send_chat(bob, "said once")
        expect(alice.item("said once")).to_have_count(1)  # the socket did deliver it
        expect(bob.item("said once")).to_have_class(re.compile(r"\bpending\b"))
        bob.page.clock.run_for(11_000)
    assert "client_id=" in (posted.value.post_data or "")
    expect(bob.item("said once")).not_to_have_class(re.compile(r"\bpending\b"))
    expect(bob.item("said once")).to_have_attribute("id", re.compile(r"^message-\d+$"))
    expect(bob.item("said once")).to_have_count(1)
    expect(alice.item("said once")).to_have_count(1)
    assert ChatMessage.objects.filter(content="said once").count() == 1
    assert any('"ack"' in frame for frame in dropped)
    alice.assert_clean()
    bob.assert_clean()


def test_member_removed_while_watching_sees_access_gone_and_cannot_send(team, open_as):
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)

    alice.page.locator("#member-list li[data-username=bob]").get_by_role(
        "button", name="Remove"
    ).click()
    alice.page.get_by_role("dialog").get_by_role("button", name="Remove").click()  # confirm
    expect(bob.page.locator("#connection-status")).to_have_text("You no longer have access")
    expect(bob.page.locator(".thread-alerts .alert-text")).to_contain_text("no longer")
    expect(bob.page.locator("#chat-input")).to_be_disabled()
    expect(bob.page.locator("#chat-form [type=submit]")).to_be_disabled()
    alice.assert_clean()
    bob.assert_clean()


# --- screenshots ------------------------------------------------------------------------


def test_screenshot_chat_and_thread(team, open_as, browser, tmp_path):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)

    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    send_chat(alice, "Morning! Standup notes are on the board.")
    send_chat(bob, "Thanks. I'm picking up the login bug today.\nShould be done by noon.")
    send_chat(alice, "@bob can you also review the chat PR?")
    send_chat(alice, IMG_PAYLOAD)
    expect(bob.log_items()).to_have_count(4)
    expect(bob.item("@bob can you also review the chat PR?")).to_have_class(
        re.compile(r"\bmentions-me\b")
    )
    bob.page.locator("#chat-input").press_sequentially("Sure, looking", delay=20)
    expect(alice.page.locator("#typing-indicator")).to_have_text("Bob B. is typing…")
    expect(alice.log_items()).to_have_count(4)
    side_by_side(
        browser,
        alice.page,
        bob.page,
        ("alice (Alice A.)", "bob (Bob B.)"),
        out_dir / "chat-room.png",
    )

    alice_task = open_as("alice", task_path(team.task))
    bob_task = open_as("bob", task_path(team.task))
    wait_live(alice_task, "#comment-connection-status")
    wait_live(bob_task, "#comment-connection-status")
    for viewer, text in (
        (alice_task, "Spec is in the description; ping me with questions."),
        (bob_task, "@alice started on it, PR by tomorrow."),
    ):
        viewer.page.locator("#comment-input").fill(text)
        viewer.page.locator("#comment-input").press("Enter")
        expect(alice_task.item(text, "#comment-log .chat-msg")).to_have_count(1)
        expect(bob_task.item(text, "#comment-log .chat-msg")).to_have_count(1)
    for viewer in (alice_task, bob_task):
        viewer.page.locator("#comment-thread").scroll_into_view_if_needed()
    side_by_side(
        browser,
        alice_task.page,
        bob_task.page,
        ("alice (Alice A.)", "bob (Bob B.)"),
        out_dir / "task-thread.png",
    )
    for viewer in (alice, bob, alice_task, bob_task):
        viewer.assert_clean()
