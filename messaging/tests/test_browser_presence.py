"""Presence in a real browser (issue 11): alice watches the board and the room; bob's dot turns
online when he opens a tab and offline when he closes his last one.

The live daphne runs with the default PRESENCE_FRAME_INTERVAL_SECONDS (5 s): closing the last
tab reaches alice at once or, if bob's previous change went out less than 5 s before, at the
end of that interval. BOUND_MS allows that plus a busy machine."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.clients import LiveSession
from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.browser

BOUND_MS = 20_000


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """The daphne child process checks these users' passwords with the real hashers."""


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    carol = UserFactory(username="carol", display_name="Carol C.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob, carol])
    room = ChatRoomFactory(board=board, name="general", created_by=alice, members=[bob])
    task = TaskFactory(column=ColumnFactory(board=board, name="Doing"), title="Ship it")
    return SimpleNamespace(alice=alice, bob=bob, carol=carol, board=board, room=room, task=task)


@pytest.fixture
def login_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., tuple]]:
    """Factory: a browser context logged in as `username` -> (context, errors)."""
    contexts = []

    def make(username: str, *, width: int = 1100, height: int = 800, dark: bool = False):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme="dark" if dark else "light",
        )
        contexts.append(context)
        errors: list[str] = []
        context.on("weberror", lambda e: errors.append(f"pageerror: {e.error}"))
        page = context.new_page()
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        login_page(page, live_daphne, username)
        page.close()
        return context, errors

    yield make
    for context in contexts:
        context.close()


def dot(page: Page, where: str, username: str):
    return page.locator(f"{where} .presence-dot[data-presence-user={username}]")


def test_bobs_dot_follows_his_tabs(team, login_as, live_daphne):
    alice_ctx, alice_errors = login_as("alice")
    board_page = alice_ctx.new_page()
    board_page.goto(live_daphne.url + reverse("kanban:board_detail", args=[team.board.pk]))
    room_page = alice_ctx.new_page()
    room_page.goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    bob_on_board = dot(board_page, "#board-presence", "bob")
    bob_in_room = dot(room_page, "#member-list", "bob")
    # alice's own pages report her online; bob has no tab yet.
    expect(dot(room_page, "#member-list", "alice")).to_have_attribute(
        "data-status", "online", timeout=BOUND_MS
    )
    expect(bob_on_board).to_have_attribute("data-status", "offline")
    expect(bob_in_room).to_have_attribute("aria-label", "Offline")

    bob_ctx, bob_errors = login_as("bob")
    first = bob_ctx.new_page()
    first.goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    expect(bob_on_board).to_have_attribute("data-status", "online", timeout=BOUND_MS)
    expect(bob_in_room).to_have_attribute("aria-label", "Online", timeout=BOUND_MS)
    expect(bob_in_room).to_have_attribute("title", "Online")

    second = bob_ctx.new_page()
    second.goto(live_daphne.url + reverse("kanban:board_detail", args=[team.board.pk]))
    expect(second.locator("#board-connection")).to_have_text("Live", timeout=BOUND_MS)
    first.close()  # one tab left: still online
    second.close()  # his last tab
    expect(bob_on_board).to_have_attribute("data-status", "offline", timeout=BOUND_MS)
    expect(bob_in_room).to_have_attribute("data-status", "offline", timeout=BOUND_MS)
    assert alice_errors == [] and bob_errors == []


# Holds the page's answers from the presence endpoint: the request is made (and answered by
# the server) at once, but the page gets the answer only when the test releases it; a flag
# says when the page has taken the released answer in.
HOLD_PRESENCE_ANSWERS = """
(() => {
  const realFetch = window.fetch.bind(window);
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  window.__presence = { hold: false, held: 0, applied: false, release: () => release() };
  window.fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!window.__presence.hold || !url.includes("/presence/")) return realFetch(input, init);
    const response = await realFetch(input, init);
    const body = await response.text();
    window.__presence.held += 1;
    await released;
    window.setTimeout(() => { window.__presence.applied = true; });
    return new Response(body, { status: response.status, headers: response.headers });
  };
})();
"""


def test_a_late_answer_does_not_undo_a_newer_frame(team, login_as, live_daphne):
    """The page asks for everyone's status (on load, after a reconnect, every minute) and
    hears presence frames meanwhile. An answer computed before bob came online but arriving
    after his "online" frame must not turn his dot back to offline (it would stay wrong until
    the next poll a minute later)."""
    alice_ctx, errors = login_as("alice")
    room_page = alice_ctx.new_page()
    room_page.add_init_script(HOLD_PRESENCE_ANSWERS)
    room_page.goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    bob_in_room = dot(room_page, "#member-list", "bob")
    expect(room_page.locator("#connection-status")).to_have_text("Live", timeout=BOUND_MS)
    # From now on the page's next refresh is held: this one or the page's own.
    room_page.evaluate("() => { window.__presence.hold = true; }")
    room_page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    room_page.wait_for_function("() => window.__presence.held === 1", timeout=BOUND_MS)
    expect(bob_in_room).to_have_attribute("data-status", "offline")  # what the answer says too

    bob_ctx, bob_errors = login_as("bob")
    bob_ctx.new_page().goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    expect(bob_in_room).to_have_attribute("data-status", "online", timeout=BOUND_MS)  # a frame
    room_page.evaluate("() => window.__presence.release()")
    room_page.wait_for_function("() => window.__presence.applied", timeout=BOUND_MS)
    assert bob_in_room.get_attribute("data-status") == "online"
    assert errors == [] and bob_errors == []


def test_the_mention_menu_shows_dots(team, login_as, live_daphne):
    bob_ctx, _ = login_as("bob")
    bob_page = bob_ctx.new_page()
    bob_page.goto(live_daphne.url + reverse("kanban:board_detail", args=[team.board.pk]))
    alice_ctx, errors = login_as("alice")
    page = alice_ctx.new_page()
    page.set_default_timeout(BOUND_MS)
    page.goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    expect(dot(page, "#member-list", "bob")).to_have_attribute("data-status", "online")
    box = page.locator("#chat-input")
    box.click()
    box.press_sequentially("hi @b")
    item = page.locator(".tribute-container li", has_text="@bob")
    expect(item.locator(".presence-dot")).to_have_attribute("data-status", "online")
    assert errors == []


def test_screenshot_presence(team, login_as, live_daphne, tmp_path):
    """bob online (a board tab), carol away (a hidden page, reported over a plain socket),
    alice herself online; the room member list and the board's Team strip, plus the strip on
    a phone in dark mode."""
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    team.room.members.add(team.carol)
    carol = LiveSession(live_daphne).log_in("carol").socket("/ws/notifications/")
    carol.send(json.dumps({"type": "heartbeat", "visible": False, "idle": False}))
    bob_ctx, _ = login_as("bob")
    bob_ctx.new_page().goto(live_daphne.url + reverse("kanban:board_detail", args=[team.board.pk]))
    alice_ctx, errors = login_as("alice")
    page = alice_ctx.new_page()
    page.set_default_timeout(BOUND_MS)
    page.goto(live_daphne.url + reverse("messaging:room_detail", args=[team.room.pk]))
    expect(dot(page, "#member-list", "bob")).to_have_attribute("data-status", "online")
    expect(dot(page, "#member-list", "carol")).to_have_attribute("data-status", "away")
    page.screenshot(path=str(out_dir / "presence-room.png"))
    board_url = live_daphne.url + reverse("kanban:board_detail", args=[team.board.pk])
    board = alice_ctx.new_page()
    board.set_default_timeout(BOUND_MS)
    board.goto(board_url)
    expect(dot(board, "#board-presence", "bob")).to_have_attribute("data-status", "online")
    expect(dot(board, "#board-presence", "carol")).to_have_attribute("aria-label", "Away")
    board.locator(".board-header").screenshot(path=str(out_dir / "presence-board.png"))
    phone_ctx, phone_errors = login_as("alice", width=390, height=844, dark=True)
    phone = phone_ctx.new_page()
    phone.set_default_timeout(BOUND_MS)
    phone.goto(board_url)
    expect(dot(phone, "#board-presence", "carol")).to_have_attribute("data-status", "away")
    phone.locator(".board-header").screenshot(path=str(out_dir / "presence-board-phone-dark.png"))
    carol.close()
    assert errors == [] and phone_errors == []
