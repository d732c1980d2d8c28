"""Unread per room in a real browser (chromium) against a live daphne (embedded mode): bob has
two tabs; he reads the room in one and the count clears in the other."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Page, expect

from messaging.services.posting import post_chat_message
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 10_000  # a daphne round trip on a busy 2-core machine; waits return earlier


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)

    def row(self, room):
        return self.page.locator(f'.list-group-item[data-room-id="{room.pk}"]')

    def assert_clean(self) -> None:
        assert self.errors == [], f"JS errors / CSP violations: {self.errors}"


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    other = ChatRoomFactory(board=board, name="random", members=[bob])
    return SimpleNamespace(alice=alice, bob=bob, board=board, room=room, other=other)


@pytest.fixture
def session_for(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Callable]]:
    """Factory: log `username` into a fresh browser context; returns a function that opens
    another tab of that session on a path."""
    contexts: list[BrowserContext] = []

    def login(username: str, *, width: int = 1000) -> Callable[[str], Tab]:
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        first = context.new_page()
        login_page(first, live_daphne, username)
        first.close()

        def open_tab(path: str) -> Tab:
            page = context.new_page()
            page.set_default_timeout(LIVE_TIMEOUT_MS)
            tab = Tab(page)
            page.on("pageerror", lambda exc: tab.errors.append(f"pageerror: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    tab.errors.append(f"console: {msg.text}")
                    if msg.type == "error" and "Content Security Policy" in msg.text
                    else None
                ),
            )
            page.goto(f"{live_daphne.url}{path}")
            return tab

        return open_tab

    yield login
    for context in contexts:
        context.close()


INBOX = reverse("messaging:inbox")


def room_path(room) -> str:
    return reverse("messaging:room_detail", args=[room.pk])


def live(tab: Tab) -> None:
    """The notifications socket is open and the counts are loaded: no frame can be missed."""
    body = tab.page.locator("body")
    expect(body).to_have_attribute("data-notifications-socket", "open")
    expect(body).to_have_attribute("data-unread-loaded", "true")


def send_in_room(tab: Tab, text: str) -> None:
    expect(tab.page.locator("#connection-status")).to_have_text("Live")
    box = tab.page.locator("#chat-input")
    box.fill(text)
    box.press("Enter")


def test_bob_reads_the_room_in_one_tab_and_the_count_clears_in_the_other(team, session_for):
    post_chat_message(room=team.room, author=team.alice, content="first news")
    post_chat_message(room=team.room, author=team.alice, content="@bob can you look?")
    post_chat_message(room=team.other, author=team.alice, content="elsewhere")
    post_chat_message(room=team.room, author=team.bob, content="bob's own words")

    bob = session_for("bob")
    inbox = bob(INBOX)
    live(inbox)
    row = inbox.row(team.room)
    expect(row.locator("[data-unread-badge]")).to_have_text("2 new")
    expect(row.locator("[data-mention-marker]")).to_be_visible()
    expect(inbox.page.locator("#messages-badge")).to_have_text("3")
    expect(inbox.page).to_have_title("(3) Messages · TaskFlow")

    # A message arrives: the inbox counts it live.
    alice = session_for("alice")(room_path(team.room))
    send_in_room(alice, "one more thing")
    expect(row.locator("[data-unread-badge]")).to_have_text("3 new")
    expect(inbox.page.locator("#messages-badge")).to_have_text("4")

    # bob opens the room in a second tab: it starts at the "New messages" line and reads.
    room_tab = bob(room_path(team.room))
    divider = room_tab.page.locator("#chat-log #unread-divider")
    expect(divider).to_have_text("New messages")
    first_unread = room_tab.page.locator("#unread-divider + .chat-msg")
    expect(first_unread).to_contain_text("first news")

    # ...and the first tab clears, the room's marker and the title with it.
    expect(row.locator("[data-unread-badge]")).to_be_hidden()
    expect(row.locator("[data-mention-marker]")).to_be_hidden()
    expect(inbox.page.locator("#messages-badge")).to_have_text("1")
    expect(inbox.page).to_have_title("(1) Messages · TaskFlow")

    # alice, in a two-person room, sees that bob has read her last message.
    expect(alice.page.locator("#seen-by")).to_have_text("Seen by Bob B.")

    # A new message while bob looks at the room is read at once: the inbox tab stays at 1.
    send_in_room(alice, "thanks!")
    expect(room_tab.page.locator("#chat-log")).to_contain_text("thanks!")
    expect(alice.page.locator("#seen-by")).to_have_text("Seen by Bob B.")
    expect(inbox.page.locator("#messages-badge")).to_have_text("1")
    for tab in (inbox, room_tab, alice):
        tab.assert_clean()


def test_a_muted_room_counts_only_its_mentions_in_the_nav(team, session_for):
    bob = session_for("bob")
    room_tab = bob(room_path(team.room))
    room_tab.page.locator("#mute-toggle").click()
    expect(room_tab.page.locator("#mute-toggle")).to_have_text("Unmute")
    room_tab.assert_clean()
    room_tab.page.close()

    inbox = bob(INBOX)
    live(inbox)
    alice = session_for("alice")(room_path(team.room))
    send_in_room(alice, "chatter")
    send_in_room(alice, "@bob you are needed")
    row = inbox.row(team.room)
    expect(row.locator("[data-unread-badge]")).to_have_text("2 new")
    expect(row.locator("[data-unread-badge]")).to_have_class(re.compile(r"\bmuted\b"))
    expect(row.locator("[data-mention-marker]")).to_be_visible()
    expect(inbox.page.locator("#messages-badge")).to_have_text("1")  # the mention only
    inbox.assert_clean()
    alice.assert_clean()


def test_screenshot_unread_inbox(team, session_for, tmp_path):
    """docs/screenshots/unread-inbox.png: the inbox with unread counts, a mention and the
    presence dot of carol, who has TaskFlow open (issue 11); unread-room.png: the room
    opened at the "New messages" line."""
    from messaging.services.direct import get_or_create_direct_room

    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    carol = UserFactory(username="carol", display_name="Carol C.")
    BoardFactory(name="Ops", created_by=team.alice, members=[team.bob, carol])
    direct, _ = get_or_create_direct_room(sender=carol, usernames=["bob"])
    post_chat_message(room=direct, author=carol, content="Got a minute for the release notes?")
    for text in ("Standup moved to 10:00", "Slides are in the drive", "@bob can you review?"):
        post_chat_message(room=team.room, author=team.alice, content=text)
    post_chat_message(room=team.other, author=team.alice, content="Lunch?")
    carol_tab = session_for("carol")("/")  # carol has TaskFlow open: online
    inbox = session_for("bob", width=1280)(INBOX)
    live(inbox)
    expect(inbox.row(team.room).locator("[data-unread-badge]")).to_have_text("3 new")
    # The inbox asks for its dots on load and every 30 s (it hears no presence frames).
    expect(
        inbox.row(direct).locator('.presence-dot[data-presence-user="carol"]')
    ).to_have_attribute("data-status", "online", timeout=45_000)
    inbox.page.screenshot(path=str(out_dir / "unread-inbox.png"), full_page=True)
    inbox.page.goto(inbox.page.url.replace(INBOX, room_path(team.room)))
    expect(inbox.page.locator("#unread-divider")).to_be_visible()
    expect(inbox.page.locator("#messages-badge")).to_have_text(
        "2", timeout=LIVE_TIMEOUT_MS
    )  # read: #random and carol's are left
    inbox.page.screenshot(path=str(out_dir / "unread-room.png"))
    inbox.assert_clean()
    carol_tab.assert_clean()
