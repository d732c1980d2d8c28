"""Notification journeys in a real browser (chromium) against a live daphne (embedded mode:
eager Celery, in-memory channel layer), two people in separate browser contexts."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from messaging.models import ChatMessage, Notification
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 10_000  # a daphne round trip on a busy 2-core machine; waits return earlier


@dataclass
class Viewer:
    page: Page
    errors: list[str] = field(default_factory=list)

    @property
    def badge(self):
        return self.page.locator("#notification-badge")

    def assert_clean(self) -> None:
        assert self.errors == [], f"JS errors / CSP violations: {self.errors}"


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    return SimpleNamespace(alice=alice, bob=bob, board=board, room=room)


@pytest.fixture
def open_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Viewer]]:
    """Factory: a fresh browser context logged in as `username`, showing `path`."""
    contexts = []

    def open_page(username: str, path: str) -> Viewer:
        context = browser.new_context(viewport={"width": 1000, "height": 800})
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
        login_page(page, live_daphne, username)
        page.goto(f"{live_daphne.url}{path}")
        return viewer

    yield open_page
    for context in contexts:
        context.close()


def board_path(board) -> str:
    return reverse("kanban:board_detail", args=[board.pk])


def room_path(room) -> str:
    return reverse("messaging:room_detail", args=[room.pk])


def wait_socket_open(viewer: Viewer) -> None:
    """The page's /ws/notifications/ socket is connected, so no push can be missed."""
    expect(viewer.page.locator("body")).to_have_attribute("data-notifications-socket", "open")


def send_in_room(viewer: Viewer, text: str) -> None:
    expect(viewer.page.locator("#connection-status")).to_have_text("Live")
    box = viewer.page.locator("#chat-input")
    box.fill(text)
    box.press("Enter")


# --- journeys ---------------------------------------------------------------------------


def test_mention_in_the_room_bob_is_looking_at_is_read_at_once(team, open_as):
    """bob sees the message arrive in the room he has open: no toast, the badge stays at 0 and
    the notification is stored as read."""
    bob = open_as("bob", room_path(team.room))
    wait_socket_open(bob)
    expect(bob.page.locator("#connection-status")).to_have_text("Live")

    alice = open_as("alice", room_path(team.room))
    send_in_room(alice, "@bob the room is on your screen")

    expect(bob.page.locator("#chat-log")).to_contain_text("@bob the room is on your screen")
    notification = None
    for _ in range(50):
        notification = Notification.objects.filter(recipient=team.bob).first()
        if notification is not None and notification.is_read:
            break
        bob.page.wait_for_timeout(100)
    assert notification is not None and notification.is_read
    expect(bob.badge).to_have_text("0")
    expect(bob.page.locator(".notification-toast")).to_have_count(0)
    bob.assert_clean()
    alice.assert_clean()


def test_mention_lights_bobs_badge_live_and_clicking_through_reads_it(team, open_as):
    bob = open_as("bob", board_path(team.board))
    wait_socket_open(bob)
    expect(bob.badge).to_have_text("0")
    expect(bob.badge).to_be_hidden()

    alice = open_as("alice", room_path(team.room))
    send_in_room(alice, "@bob can you review the launch plan?")

    # No reload: the socket pushes the notification and the count.
    expect(bob.badge).to_have_text("1")
    expect(bob.badge).to_be_visible()
    expect(bob.badge).to_have_attribute("data-count", "1")
    toast = bob.page.locator(".notification-toast")
    expect(toast).to_have_count(1)
    link = toast.locator("a.notification-toast-link")
    expect(link).to_have_text(
        'alice mentioned you in #general: "@bob can you review the launch plan?"'
    )
    assert bob.page.url.endswith(board_path(team.board))

    link.click()

    message = ChatMessage.objects.get(content="@bob can you review the launch plan?")
    bob.page.wait_for_url(re.compile(rf"{room_path(team.room)}#message-{message.pk}$"))
    expect(bob.badge).to_have_text("0")
    expect(bob.badge).to_be_hidden()
    expect(bob.page.locator(f"#message-{message.pk}")).to_be_visible()
    notification = Notification.objects.get()
    assert notification.recipient == team.bob and notification.is_read
    alice.assert_clean()
    bob.assert_clean()


def test_message_without_mention_makes_no_notification_and_still_reaches_bob(team, open_as):
    bob = open_as("bob", room_path(team.room))
    expect(bob.page.locator("#connection-status")).to_have_text("Live")
    wait_socket_open(bob)
    alice = open_as("alice", room_path(team.room))

    send_in_room(alice, "plain update, no mention")

    expect(
        bob.page.locator("#chat-log .chat-msg .body", has_text="plain update, no mention")
    ).to_have_count(1)
    expect(bob.badge).to_have_text("0")
    expect(bob.page.locator(".notification-toast")).to_have_count(0)
    assert not Notification.objects.exists()
    message = ChatMessage.objects.get(content="plain update, no mention")
    assert message.mentions_notified_at is not None  # nothing owed: the sweep skips it
    alice.assert_clean()
    bob.assert_clean()


def test_reading_in_one_tab_clears_the_badge_in_the_other(team, open_as, live_daphne, caplog):
    """Notifications page: unread highlighted; its link marks read on the way to the
    message; "Mark all read" zeroes the badge in every tab of the user."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from messaging.services.posting import post_chat_message

    other_room = ChatRoomFactory(board=team.board, name="random", members=[team.bob])

    def post(room, text: str) -> None:
        try:
            post_chat_message(room=room, author=team.alice, content=text)
        finally:
            connection.close()  # this thread's own connection

    # Another thread: Playwright's event loop runs in this one, and the service's broadcast
    # (async_to_sync) cannot run inside it. One mention per room: opening a room reads all
    # of its mentions.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(post, team.room, "@bob first").result()
        pool.submit(post, other_room, "@bob second").result()
    unread = Notification.objects.filter(recipient=team.bob, is_read=False).count()
    assert unread == 2, caplog.text

    other_tab = open_as("bob", board_path(team.board))
    expect(other_tab.badge).to_have_text("2")
    wait_socket_open(other_tab)
    bob = open_as("bob", reverse("messaging:notifications"))
    expect(bob.page.locator("#notification-list .notification.unread")).to_have_count(2)

    bob.page.locator(".notification-link", has_text="@bob first").click()
    bob.page.wait_for_url(re.compile(rf"{room_path(team.room)}#message-\d+$"))
    expect(bob.badge).to_have_text("1")
    expect(other_tab.badge).to_have_text("1")  # pushed live to the other tab

    bob.page.goto(live_daphne.url + reverse("messaging:notifications"))
    expect(bob.page.locator("#notification-list .notification.unread")).to_have_count(1)
    bob.page.locator("#notifications-read-all button").click()
    expect(bob.page.locator("#notification-list .notification.unread")).to_have_count(0)
    expect(bob.badge).to_be_hidden()
    expect(other_tab.badge).to_have_text("0")
    expect(other_tab.badge).to_be_hidden()
    bob.assert_clean()
    other_tab.assert_clean()


def test_autocomplete_suggests_only_room_members_with_escaped_names(team, open_as):
    team.bob.display_name = "<b>Bob</b>"
    team.bob.save(update_fields=["display_name"])
    outsider = UserFactory(username="bobby")  # on no board: never suggested
    assert outsider.pk

    alice = open_as("alice", room_path(team.room))
    box = alice.page.locator("#chat-input")
    box.press_sequentially("hi @bo", delay=20)

    items = alice.page.locator(".tribute-container li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("<b>Bob</b>")  # literal text, not markup
    assert alice.page.locator(".tribute-container li b").count() == 0
    expect(box).to_have_attribute("data-mention-menu-open", "true")
    items.first.click()
    expect(box).to_have_value("hi @bob ")
    expect(box).not_to_have_attribute("data-mention-menu-open", "true")
    alice.assert_clean()
