"""The finished feel, in a real browser (chromium) against a live daphne: every main page fits
a phone (390 x 844) and a laptop (1280 x 800) without sideways scrolling, its nav works, it
passes axe-core (WCAG 2.2 AA: no serious or critical violation) in the light and the dark
theme, and the connection state, message limit, confirmations, shortcuts and theme toggle
behave as people see them.

axe-core is vendored in tests/vendor/axe-core (see its README) and injected with
`page.evaluate`, which the pages' Content-Security-Policy does not apply to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from accounts.models import User
from kanban.management.commands.seed_demo import BOARD_NAME, DEMO_PASSWORD, ROOM_NAME
from kanban.models import Board, Task
from messaging.models import ChatMessage, ChatRoom

pytestmark = pytest.mark.browser

AXE_JS = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RUN_JS = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3)
      .map((n) => `${n.target.join(' ')} ${(n.failureSummary || '').split('\\n')[1] || ''}`)
      .join(' | '));
}"""
TIMEOUT_MS = 15_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
OFFLINE_STATUS = "Offline. Messages will be sent when you're back online."
OFFLINE_NOTE = "You're offline. We'll send this when you're back."


@dataclass
class Viewer:
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems


@pytest.fixture
def demo(transactional_db) -> SimpleNamespace:
    """The `make run` demo: alice (board and room creator), bob, carol; six tasks; #General."""
    call_command("seed_demo", stdout=StringIO())
    board = Board.objects.get(name=BOARD_NAME)
    return SimpleNamespace(
        board=board,
        task=Task.objects.get(title="Design the onboarding tour"),
        room=ChatRoom.objects.get(board=board, name=ROOM_NAME),
        bob=User.objects.get(username="bob"),
    )


@pytest.fixture
def open_as(browser: Browser, live_daphne) -> Iterator[Callable[..., Viewer]]:
    """Factory: a new browser context at `viewport`, logged in through the form as `username`."""
    contexts: list[BrowserContext] = []

    def make(username: str, *, viewport: dict = DESKTOP, color_scheme: str = "light") -> Viewer:
        context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        viewer = Viewer(context, page)
        page.on("pageerror", lambda exc: viewer.problems.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                viewer.problems.append(f"CSP: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.goto(f"{live_daphne.url}{reverse('accounts:login')}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return viewer

    yield make
    for context in contexts:
        context.close()


def main_pages(demo: SimpleNamespace) -> list[tuple[str, str, Callable[[Page], None]]]:
    """(screenshot name, path, wait until the page is ready) for every main page."""

    def heading(name: str) -> Callable[[Page], None]:
        return lambda page: expect(
            page.get_by_role("heading", name=name, exact=True)
        ).to_be_visible()

    def live(selector: str) -> Callable[[Page], None]:
        return lambda page: expect(page.locator(selector)).to_have_text("Live")

    return [
        ("boards", reverse("kanban:board_list"), heading("My boards")),
        ("board", demo.board.get_absolute_url(), heading(BOARD_NAME)),
        ("task", demo.task.get_absolute_url(), live("#comment-connection-status")),
        # Before the room: opening the room marks its mention read.
        ("notifications", reverse("messaging:notifications"), heading("Notifications")),
        ("room", reverse("messaging:room_detail", args=[demo.room.pk]), live("#connection-status")),
        ("inbox", reverse("messaging:inbox"), heading("Messages")),
        ("settings", reverse("accounts:profile"), heading("Your profile")),
    ]


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.evaluate(AXE_JS)
    results = page.evaluate(AXE_RUN_JS, AXE_TAGS)
    return list(results)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 = no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


SMALL_TARGETS_JS = """() => {
  const selector = 'button, .btn, .nav-link, input:not([type=hidden]), select, textarea,'
    + ' summary, .page-link, .breadcrumb-item a';
  const small = [];
  for (const control of document.querySelectorAll(selector)) {
    // A checkbox or radio with its label is one target (the label toggles it).
    const pair = control.matches('input[type=checkbox], input[type=radio]')
      && (control.closest('.form-check') || control.closest('label'));
    const el = pair || control;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (el.closest('dialog:not([open]), [hidden], .visually-hidden')) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (box.height < 44 || box.width < 44) {
      small.push(`${el.tagName}.${el.className} ${box.width | 0}x${box.height | 0}`);
    }
  }
  return small;
}"""


def check_nav(page: Page, *, phone: bool) -> None:
    notifications = page.get_by_role("link", name=re.compile(r"^Notifications"))
    toggle = page.get_by_role("button", name="Menu")
    if not phone:
        expect(toggle).to_be_hidden()
        expect(notifications).to_be_visible()
        return
    expect(notifications).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    for name in ("My boards", "Messages", "Log out"):
        expect(
            page.get_by_role("navigation", name="Main").get_by_text(name, exact=True)
        ).to_be_visible()
    box = notifications.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert horizontal_overflow(page) <= 0
    page.keyboard.press("Escape")  # Esc closes the menu and gives the focus back to the button
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_be_focused()
    expect(notifications).to_be_hidden()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_screenshot_main_pages_fit_the_screen_have_a_usable_nav_and_pass_axe(
    demo, open_as, size, tmp_path
):
    """Each main page at 390 x 844 and 1280 x 800: no horizontal scroll, nav usable, 44 px
    tap targets on the phone, zero serious/critical axe violations in light and dark;
    screenshots into $TASKFLOW_SCREENSHOTS (or a temporary directory)."""
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    phone = size == "phone"
    viewer = open_as("alice", viewport=PHONE if phone else DESKTOP)
    page = viewer.page
    failures: list[str] = []
    for name, path, ready in main_pages(demo):
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(f"{viewer_base(page)}{path}")
            ready(page)
            expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
            overflow = horizontal_overflow(page)
            if overflow > 0:
                failures.append(f"{name} {scheme}: {overflow}px wider than the screen")
            failures += [f"{name} {scheme}: {v}" for v in axe_violations(page)]
            if scheme == "light":
                if phone:
                    failures += [
                        f"{name}: small target {t}" for t in page.evaluate(SMALL_TARGETS_JS)
                    ]
                page.screenshot(path=str(out_dir / f"{size}-{name}.png"))
                check_nav(page, phone=phone)
    page.emulate_media(color_scheme="dark")
    dark_pages = [p for p in main_pages(demo) if p[0] in ("board", "task", "room")]
    for name, path, ready in dark_pages:
        page.goto(f"{viewer_base(page)}{path}")
        ready(page)
        page.screenshot(path=str(out_dir / f"{size}-{name}-dark.png"))
    assert failures == [], "\n".join(failures)
    viewer.assert_clean()
    for name, _, _ in main_pages(demo):
        assert (out_dir / f"{size}-{name}.png").stat().st_size > 5_000


def viewer_base(page: Page) -> str:
    match = re.match(r"^(https?://[^/]+)", page.url)
    assert match
    return match.group(1)


# --- connection state ---------------------------------------------------------------------


def room_url(page: Page, demo) -> str:
    return f"{viewer_base(page)}{reverse('messaging:room_detail', args=[demo.room.pk])}"


def message(page: Page, text: str):
    return page.locator("#chat-log .chat-msg").filter(
        has=page.locator(".body", has_text=re.compile(f"^{re.escape(text)}$"))
    )


def test_offline_status_pending_wording_and_delivery_when_back(demo, open_as):
    """The network goes away: the room says Offline at once (not "Live"), a message written
    meanwhile says it will be sent, never turns into a failure while offline, and arrives
    once for everyone when the network is back."""
    alice = open_as("alice", viewport=PHONE)
    bob = open_as("bob")
    alice.page.clock.install()  # so the outbox's 10 s HTTP fallback can be fast-forwarded
    for viewer in (alice, bob):
        viewer.page.goto(room_url(viewer.page, demo))
        expect(viewer.page.locator("#connection-status")).to_have_text("Live")
    posts: list[str] = []
    alice.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    alice.context.set_offline(True)
    status = alice.page.locator("#connection-status")
    expect(status).to_have_text(OFFLINE_STATUS)
    box = alice.page.locator("#chat-input")
    box.fill("written on the train")
    box.press("Enter")
    pending = message(alice.page, "written on the train")
    expect(pending).to_have_class(re.compile(r"\bpending\b"))
    expect(pending.locator(".send-state")).to_have_text(OFFLINE_NOTE)
    alice.page.clock.run_for(75_000)  # well past the outbox's HTTP fallback
    expect(status).to_have_text(OFFLINE_STATUS)
    expect(pending).not_to_have_class(re.compile(r"\bfailed\b"))
    expect(pending.locator(".send-state")).to_have_text(OFFLINE_NOTE)
    assert "Error" not in pending.inner_text()
    expect(message(bob.page, "written on the train")).to_have_count(0)
    assert ChatMessage.objects.filter(content="written on the train").count() == 0

    alice.context.set_offline(False)
    alice.page.clock.run_for(1_000)  # the reconnect is scheduled on the (installed) clock
    expect(status).to_have_text("Live")
    expect(pending).not_to_have_class(re.compile(r"\bpending\b"))
    expect(pending).to_have_attribute("id", re.compile(r"^message-\d+$"))
    expect(pending.locator(".send-state")).to_have_count(0)
    expect(message(bob.page, "written on the train")).to_have_count(1)
    assert ChatMessage.objects.filter(content="written on the train").count() == 1
    assert posts == [], "delivered over the socket, not by a fallback POST while offline"
    alice.assert_clean()
    bob.assert_clean()


def test_lost_socket_says_reconnecting_with_the_next_try_and_retry_now_reconnects(demo, open_as):
    """The server becomes unreachable (the browser stays online): the status counts down to
    the next attempt, with growing backoff, and "Retry now" reconnects at once. The page's
    clock is installed, so no scheduled attempt fires unless the test advances it."""
    state = SimpleNamespace(refuse=False, first=None, refused=0)

    def route(ws: WebSocketRoute) -> None:
        if state.refuse:
            state.refused += 1
            ws.close(code=1011, reason="test: server unreachable")
            return
        state.first = (ws, ws.connect_to_server())

    viewer = open_as("alice", viewport=PHONE)
    page = viewer.page
    page.clock.install()
    page.route_web_socket(re.compile(r"/ws/chat-room/\d+/$"), route)
    page.goto(room_url(page, demo))
    status = page.locator("#connection-status")
    retry = page.get_by_role("button", name="Retry now")
    expect(status).to_have_text("Live")
    expect(retry).to_have_count(0)

    state.refuse = True
    page_side, server_side = state.first
    server_side.close()
    page_side.close(code=1011, reason="test: connection lost")
    expect(status).to_have_text("Reconnecting: next try in 1 s")
    expect(retry).to_be_visible()
    page.clock.run_for(1_000)  # attempt 1 (refused)
    page.clock.run_for(2_000)  # attempt 2 (refused); attempt 3 waits 1.5-2.5 s
    expect(status).to_have_text(re.compile(r"^Reconnecting: next try in [23] s$"))

    state.refuse = False
    retry.click()
    expect(status).to_have_text("Live")
    expect(retry).to_be_hidden()
    assert state.refused == 2  # attempts 1 and 2; the reconnect was the button's
    viewer.assert_clean()


# --- the message box ----------------------------------------------------------------------


def test_over_long_message_keeps_every_character_and_is_refused_with_a_reason(demo, open_as):
    viewer = open_as("alice", viewport=PHONE)
    page = viewer.page
    page.goto(room_url(page, demo))
    expect(page.locator("#connection-status")).to_have_text("Live")
    box = page.locator("#chat-input")
    counter = page.locator("#chat-input-counter")
    expect(counter).to_be_hidden()

    pasted = "x" * 4_500
    box.fill(pasted)
    expect(counter).to_have_text(
        "This message is 500 characters too long: the limit is 4,000. Shorten it to send."
    )
    expect(box).to_have_attribute("aria-invalid", "true")
    assert len(box.input_value()) == 4_500  # nothing was cut off
    before = page.locator("#chat-log .chat-msg").count()
    box.press("Enter")
    expect(page.locator(".thread-alerts .alert-text")).to_contain_text("500 characters too long")
    assert box.input_value() == pasted
    expect(page.locator("#chat-log .chat-msg")).to_have_count(before)

    box.fill("y" * 3_700)
    expect(counter).to_have_text("3,700 of 4,000 characters")
    box.press("Enter")
    expect(page.locator("#chat-log .chat-msg")).to_have_count(before + 1)
    expect(box).to_have_value("")
    expect(counter).to_be_hidden()
    viewer.assert_clean()


def test_on_a_phone_a_messages_text_follows_its_name_and_its_actions_fit(demo, open_as):
    """The hidden action bar (Reply, React, Edit, Delete) took a 44 px line of its own inside
    each message on phones: a blank gap between the name and the text."""
    viewer = open_as("alice", viewport=PHONE)
    page = viewer.page
    page.goto(room_url(page, demo))
    expect(page.locator("#connection-status")).to_have_text("Live")
    own = page.locator("#chat-log .chat-msg.own").first
    expect(own.locator(".actions [data-action=edit]")).to_be_attached()
    gaps = page.evaluate(
        """() => [...document.querySelectorAll('#chat-log .chat-msg')].map((m) =>
          m.querySelector('.body').getBoundingClientRect().top
          - m.querySelector('.meta .author').getBoundingClientRect().bottom)"""
    )
    assert gaps and max(gaps) < 12, gaps
    own.locator(".body").click()  # a tap shows the actions, inside the message and the screen
    edit = own.get_by_role("button", name="Edit")
    expect(edit).to_be_visible()
    box, msg = edit.bounding_box(), own.bounding_box()
    assert box and msg and box["height"] >= 44
    assert msg["x"] <= box["x"] and box["x"] + box["width"] <= min(msg["x"] + msg["width"], 390)
    assert horizontal_overflow(page) <= 0
    viewer.assert_clean()


def test_over_long_thread_reply_keeps_every_character_and_is_refused_with_a_reason(demo, open_as):
    """The thread's reply box had a maxlength that cut a paste short without a word."""
    viewer = open_as("alice")
    page = viewer.page
    page.goto(room_url(page, demo))
    expect(page.locator("#connection-status")).to_have_text("Live")
    root = page.locator("#chat-log .chat-msg").last
    root.hover()
    root.locator("[data-action=reply]").click()
    reply = page.locator("#thread-input")
    expect(reply).to_be_focused()
    replies = page.locator("#thread-log .chat-msg")

    pasted = "z" * 4_500
    reply.fill(pasted)
    expect(page.locator("#thread-input-counter")).to_have_text(
        "This message is 500 characters too long: the limit is 4,000. Shorten it to send."
    )
    reply.press("Enter")
    expect(page.locator(".thread-alerts .alert-text")).to_contain_text("500 characters too long")
    assert reply.input_value() == pasted
    expect(replies).to_have_count(0)

    reply.fill("z" * 3_900)
    reply.press("Enter")
    expect(replies).to_have_count(1)
    expect(reply).to_have_value("")
    expect(page.locator("#thread-input-counter")).to_be_hidden()
    viewer.assert_clean()


# --- confirmations, blank names, keyboard, theme -------------------------------------------


def test_removing_a_member_asks_first_and_cancel_keeps_them(demo, open_as):
    viewer = open_as("alice", viewport=PHONE)
    page = viewer.page
    page.goto(f"{viewer_base(page)}{reverse('kanban:board_members', args=[demo.board.pk])}")
    bob_row = page.locator("#member-list li", has_text="@bob")
    dialog = page.get_by_role("dialog", name="Are you sure?")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    bob_row.get_by_role("button", name="Remove").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Remove Bob Baker from TaskFlow launch?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert posts == []
    assert demo.board.members.filter(pk=demo.bob.pk).exists()

    bob_row.get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Remove").click()
    removed = page.locator("#member-removed")
    expect(removed).to_contain_text("Bob Baker was removed from the board.")
    expect(page.locator("#member-list li", has_text="@bob")).to_have_count(0)
    assert not demo.board.members.filter(pk=demo.bob.pk).exists()

    removed.get_by_role("button", name="Undo: add Bob Baker back").click()  # one click back
    expect(page.locator("#member-list li", has_text="@bob")).to_have_count(1)
    expect(page.locator("#flash-messages")).to_contain_text("Bob Baker can now see this board.")
    assert demo.board.members.filter(pk=demo.bob.pk).exists()
    viewer.assert_clean()


def test_deleting_a_column_asks_first_and_blank_names_are_refused_on_the_field(demo, open_as):
    viewer = open_as("alice")
    page = viewer.page
    page.goto(f"{viewer_base(page)}{demo.board.get_absolute_url()}")
    columns = page.locator(".board-column[data-column-id]")
    expect(columns).to_have_count(3)

    name = page.locator("#new-column-name")
    name.fill("   ")
    page.locator(".add-column").get_by_role("button", name="Add").click()
    assert name.evaluate("el => el.validationMessage") == "Column name can't be blank."
    expect(columns).to_have_count(3)

    done = columns.filter(has=page.locator(".column-name", has_text="Done"))
    done.get_by_label("Actions for column Done").click()
    done.get_by_role("button", name="Delete column").click()
    dialog = page.get_by_role("dialog", name="Are you sure?")
    expect(dialog).to_contain_text("Delete this column? This cannot be undone.")
    page.keyboard.press("Escape")  # Esc is Cancel
    expect(dialog).to_be_hidden()
    expect(columns).to_have_count(3)
    viewer.assert_clean()


def test_keyboard_question_mark_lists_shortcuts_and_escape_closes_panels(demo, open_as):
    viewer = open_as("alice")
    page = viewer.page
    page.goto(f"{viewer_base(page)}{demo.board.get_absolute_url()}")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")

    page.keyboard.press("?")
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text("Shift + Enter")
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()

    menu = page.locator(".column-menu").first
    menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")

    # "/" goes to the search box (the nav's here; the search page's own box there).
    page.keyboard.press("/")
    expect(page.locator("#nav-search-input")).to_be_focused()
    expect(page.locator("#nav-search-input")).to_have_value("")
    page.keyboard.press("Escape")  # Esc in a search box clears it; nothing else happens
    page.locator("#nav-search-input").blur()

    # Typing a "?" in a text box is just a question mark.
    page.locator("#new-column-name").press("?")
    expect(shortcuts).to_be_hidden()
    expect(page.locator("#new-column-name")).to_have_value("?")

    page.goto(f"{viewer_base(page)}{reverse('search:search')}?q=launch")
    page.keyboard.press("/")
    expect(page.locator("#search-page-input")).to_be_focused()
    expect(page.locator("#search-page-input")).to_have_value("launch")
    viewer.assert_clean()


FOCUS_RING_JS = """() => {
  const style = getComputedStyle(document.activeElement);
  return style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_tab_reaches_the_skip_link_first_and_the_focus_is_always_visible(demo, open_as, scheme):
    viewer = open_as("alice", color_scheme=scheme)
    page = viewer.page
    page.goto(f"{viewer_base(page)}{demo.board.get_absolute_url()}")
    expect(page.locator("#board-connection")).to_have_text("Live")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert page.evaluate(FOCUS_RING_JS)
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The next stops are in the page, in reading order, each with a visible ring.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="My boards").last).to_be_focused()
    for _ in range(6):
        assert page.evaluate(FOCUS_RING_JS), page.evaluate("document.activeElement.outerHTML")
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
        page.keyboard.press("Tab")
    viewer.assert_clean()


def test_dark_mode_toggle_is_remembered_for_the_user(demo, open_as):
    viewer = open_as("alice", color_scheme="light")
    page = viewer.page
    html = page.locator("html")
    expect(html).to_have_attribute("data-bs-theme", "light")
    toggle = page.get_by_role("button", name="Dark mode")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    with page.expect_response(lambda r: r.url.endswith(reverse("accounts:theme"))) as saved:
        toggle.click()
    assert saved.value.json() == {"theme": "dark"}
    expect(html).to_have_attribute("data-bs-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")

    page.reload()
    expect(html).to_have_attribute("data-bs-theme", "dark")

    # The profile's Appearance form: back to following the device (light here), at once.
    page.goto(f"{viewer_base(page)}{reverse('accounts:profile')}")
    page.get_by_label("Colour theme").select_option("auto")
    page.get_by_role("button", name="Save theme").click()
    expect(page.locator("#app-toasts")).to_contain_text("Theme saved.")
    expect(html).to_have_attribute("data-bs-theme", "light")
    assert User.objects.get(username="alice").theme == "auto"
    page.get_by_label("Colour theme").select_option("dark")
    page.get_by_role("button", name="Save theme").click()
    expect(html).to_have_attribute("data-bs-theme", "dark")
    expect(page.locator("#app-toasts .app-toast")).to_have_count(2)

    # Another device, set to light, still gets alice's choice.
    other = open_as("alice", color_scheme="light")
    expect(other.page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    viewer.assert_clean()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_signed_out_pages_fit_and_pass_axe(
    transactional_db, browser: Browser, live_daphne, viewport
):
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        failures: list[str] = []
        for path in (reverse("accounts:login"), reverse("accounts:signup")):
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                page.goto(f"{live_daphne.url}{path}")
                expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
                if horizontal_overflow(page) > 0:
                    failures.append(f"{path} {scheme}: wider than the screen")
                failures += [f"{path} {scheme}: {v}" for v in axe_violations(page)]
        assert failures == [], "\n".join(failures)
    finally:
        context.close()


def other_pages(demo: SimpleNamespace) -> list[tuple[str, str]]:
    """(name, path) of the signed-in pages beyond the main ones: the nav's Organizations and
    search, the board's and room's secondary pages, settings sub-pages, forms and confirmation
    pages. (The error pages need DEBUG off: see the last test.)"""
    org = demo.board.organization
    return [
        ("organizations", reverse("orgs:list")),
        ("organization", org.get_absolute_url()),
        ("audit log", reverse("orgs:audit", args=[org.slug])),
        ("search", f"{reverse('search:search')}?q=launch"),
        ("new board", reverse("kanban:board_create")),
        ("board members", reverse("kanban:board_members", args=[demo.board.pk])),
        ("labels", reverse("kanban:board_labels", args=[demo.board.pk])),
        ("delete board", reverse("kanban:board_delete", args=[demo.board.pk])),
        ("edit task", reverse("kanban:task_edit", args=[demo.task.pk])),
        ("delete task", reverse("kanban:task_delete", args=[demo.task.pk])),
        ("rooms", reverse("messaging:room_list", args=[demo.board.pk])),
        ("e-mail preferences", reverse("accounts:notification_preferences")),
        ("API tokens", reverse("api_tokens:list")),
        ("room webhooks", reverse("webhooks:room_webhooks", args=[demo.room.pk])),
        ("board webhooks", reverse("webhooks:board_webhooks", args=[demo.board.pk])),
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_other_signed_in_pages_fit_and_pass_axe_in_both_themes(demo, open_as, viewport):
    """Every other page alice can open: no sideways scroll, 44 px targets on the phone, and
    zero serious/critical axe violations in light and dark."""
    viewer = open_as("alice", viewport=viewport)
    page = viewer.page
    failures: list[str] = []
    for name, path in other_pages(demo):
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(f"{viewer_base(page)}{path}")
            if page.locator("html").get_attribute("data-bs-theme") != scheme:
                failures.append(f"{name} {scheme}: not in the {scheme} theme")
            if page.get_by_role("heading", level=1).count() != 1:
                failures.append(f"{name} {scheme}: not one level-one heading")
            overflow = horizontal_overflow(page)
            if overflow > 0:
                failures.append(f"{name} {scheme}: {overflow}px wider than the screen")
            failures += [f"{name} {scheme}: {v}" for v in axe_violations(page)]
            if scheme == "light" and viewport == PHONE:
                failures += [f"{name}: small target {t}" for t in page.evaluate(SMALL_TARGETS_JS)]
    assert failures == [], "\n".join(failures)
    viewer.assert_clean()


def test_error_pages_with_debug_off_fit_a_phone_pass_axe_and_lead_back(demo, browser: Browser):
    """A server started as `make run` starts it (DEBUG off): bob's mistyped address and a page
    he may not manage get the styled 404 and 403 in the app's layout, at phone size, in both
    themes, with no axe violation, and "Go to my boards" takes him back."""
    from django.db import connection

    from tests.live import DaphneServer, database_url_for

    server = DaphneServer(
        database_url=database_url_for(connection.settings_dict),
        extra_env={
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "error-pages-test-" + "k" * 50,
            "DJANGO_SECURE_COOKIES": "0",  # plain HTTP, as `make run` serves
        },
    )
    pages = [
        ("/boadrs/1/", 404, "We can't find that page"),
        (reverse("webhooks:board_webhooks", args=[demo.board.pk]), 403, "You can't do that here"),
    ]
    with server:
        context = browser.new_context(viewport=PHONE)
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{server.url}{reverse('accounts:login')}")
            page.fill("input[name=username]", "bob")
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(lambda url: "/accounts/login/" not in url)
            failures: list[str] = []
            for path, code, heading in pages:
                for scheme in ("light", "dark"):
                    page.emulate_media(color_scheme=scheme)
                    response = page.goto(f"{server.url}{path}")
                    assert response is not None and response.status == code
                    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
                    expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
                    assert "Traceback" not in page.content()
                    if horizontal_overflow(page) > 0:
                        failures.append(f"{code} {scheme}: wider than the screen")
                    failures += [f"{code} {scheme}: {v}" for v in axe_violations(page)]
                    if scheme == "light":
                        failures += [
                            f"{code}: small target {t}" for t in page.evaluate(SMALL_TARGETS_JS)
                        ]
            assert failures == [], "\n".join(failures)
            page.get_by_role("link", name="Go to my boards").click()
            expect(page.get_by_role("heading", name="My boards", exact=True)).to_be_visible()
        finally:
            context.close()
