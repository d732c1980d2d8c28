"""XSS in a real browser (chromium) against a live daphne: stored payloads on every page and
payloads arriving live over the sockets (chat, comments, typing, notification toasts).

Every page is watched for what an XSS would do: a dialog opening (alert), a CSP violation
(an injected inline script or handler that the policy blocked), an element or handler
attribute that none of our templates produce, a javascript: link. And, so the check is not
vacuous, each payload must be visible on the page as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.security_routes import World
from tests.xss_corpus import EXPECTED_TEXT, MARKDOWN_VECTORS, PAYLOADS, hostile_world, tagged

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 10_000

# A browser load per page per payload is slow; these cover every distinct context (element
# content, attribute break-out, textarea/script break-out, URL scheme, template syntax,
# pre-escaped text).
BROWSER_PAYLOADS = [
    PAYLOADS[0],  # <img src=x onerror=alert(1)>
    PAYLOADS[2],  # "><svg onload=alert(1)>
    PAYLOADS[4],  # </textarea><script>alert(1)</script>
    PAYLOADS[5],  # {{7*7}}{% now 'Y' %}
    PAYLOADS[6],  # <a href="javascript:alert(1)">x</a>
    PAYLOADS[7],  # " onmouseover="alert(1)
    PAYLOADS[10],  # <iframe srcdoc=...>
    PAYLOADS[11],  # &lt;img ...&gt;
]

# Run in the page: everything that looks injected. Our templates and scripts produce no
# handler attributes, no svg/iframe, no img[src=x] and no inline scripts.
FIND_INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on")) found.push(`${el.tagName} ${attr.name}`);
    }
    for (const name of ["href", "src", "action", "formaction"]) {
      const value = (el.getAttribute(name) || "").trim().toLowerCase();
      if (value.startsWith("javascript:")) found.push(`${el.tagName} ${name}=javascript:`);
    }
  }
  const selector = 'img[src="x"], svg, iframe, object, embed, '
    + 'script:not([src]):not([type="application/json"])';
  for (const el of document.querySelectorAll(selector)) found.push(`element ${el.tagName}`);
  return found;
}"""


@dataclass
class Watched:
    """A page and everything that went wrong on it."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def assert_clean(self, where: str) -> None:
        assert self.dialogs == [], f"{where}: dialog opened: {self.dialogs}"
        assert self.csp_violations == [], f"{where}: CSP violations: {self.csp_violations}"
        assert self.page_errors == [], f"{where}: page errors: {self.page_errors}"
        injected = self.page.evaluate(FIND_INJECTED)
        assert injected == [], f"{where}: injected: {injected}"

    def visible_text(self) -> str:
        return self.page.inner_text("body")


@pytest.fixture
def open_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Watched]]:
    """Factory: a fresh browser context logged in (through the form) as `username`."""
    contexts = []

    def open_page(username: str) -> Watched:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        watched = Watched(page)
        page.on("dialog", lambda d: (watched.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: watched.page_errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                watched.csp_violations.append(msg.text)
                if "Content Security Policy" in msg.text
                else None
            ),
        )
        login_page(page, live_daphne, username)
        return watched

    yield open_page
    for context in contexts:
        context.close()


def visit(watched: Watched, server, path: str) -> None:
    watched.page.goto(f"{server.url}{path}")
    watched.page.wait_for_load_state("load")
    # The live modules render back-filled history too (with textContent): wait until each
    # thread on the page is live and its back-fill request has finished.
    watched.page.wait_for_function(
        """() => [...document.querySelectorAll(".connection-status")]
            .every((el) => el.textContent.trim() === "Live")"""
    )
    watched.page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("payload", BROWSER_PAYLOADS)
def test_stored_payloads_are_inert_on_every_page(
    payload, live_daphne, transactional_db, alice, bob, carol, open_as
):
    world: World = hostile_world(payload, alice, bob, carol)
    viewer = open_as("alice")
    for name, fields in EXPECTED_TEXT.items():
        visit(viewer, live_daphne, world.url_for_name(name))
        # Hover and focus everything a payload could have turned into a handler.
        for locator in viewer.page.locator(".chat-msg .body, .task-title, h1").all()[:10]:
            if locator.is_visible():
                locator.hover()
        text = viewer.visible_text()
        for field_name in fields:
            shown = tagged(
                "member" if field_name in ("assignee", "commenter") else field_name, payload
            )
            assert shown[:80] in text, (name, field_name)
        viewer.assert_clean(name)


def room_path(world: World) -> str:
    return reverse("messaging:room_detail", args=[world.room.pk])


def task_path(world: World) -> str:
    return reverse("kanban:task_detail", args=[world.task.pk])


def wait_live(watched: Watched, status: str) -> None:
    expect(watched.page.locator(status)).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)


LIVE_TEXT = " | ".join(PAYLOADS)


@pytest.fixture
def hostile_team(live_daphne, transactional_db, alice, bob, carol) -> World:
    """alice's board; every display name is a payload."""
    for user, payload in ((alice, PAYLOADS[2]), (bob, PAYLOADS[7]), (carol, PAYLOADS[0])):
        user.display_name = payload
        user.save(update_fields=["display_name"])
    return World.build(alice, [bob, carol])


def both_live_in_the_room(world: World, live_daphne, open_as) -> tuple[Watched, Watched]:
    """alice's and bob's watched pages on the hostile room, each socket live."""
    alice = open_as("alice")
    bob = open_as("bob")
    for watched in (alice, bob):
        visit(watched, live_daphne, room_path(world))
    for watched in (alice, bob):
        wait_live(watched, "#connection-status")
    return alice, bob


def test_live_chat_message_typing_and_presence_are_inert(hostile_team, live_daphne, open_as):
    alice, bob = both_live_in_the_room(hostile_team, live_daphne, open_as)

    # bob types: alice's typing indicator shows his hostile display name.
    bob.page.locator("#chat-input").press_sequentially("hi", delay=50)
    expect(alice.page.locator("#typing-indicator")).to_contain_text(
        PAYLOADS[7], timeout=LIVE_TIMEOUT_MS
    )
    bob.page.locator("#chat-input").fill("")

    box = alice.page.locator("#chat-input")
    box.fill(LIVE_TEXT)
    box.press("Enter")
    arrived = bob.page.locator("#chat-log .chat-msg .body", has_text=PAYLOADS[4])
    expect(arrived).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert arrived.inner_text() == LIVE_TEXT
    arrived.hover()
    expect(bob.page.locator("#chat-log .chat-msg .author").last).to_have_text(PAYLOADS[2])
    alice.assert_clean("alice's room page")
    bob.assert_clean("bob's room page")


def test_live_comment_and_mention_toast_are_inert(hostile_team, live_daphne, open_as):
    world = hostile_team
    alice = open_as("alice")
    bob = open_as("bob")
    # bob also has the board open elsewhere: the mention toasts there (on the task page itself
    # it is read at once, since bob is looking at it).
    bob_elsewhere = open_as("bob")
    visit(alice, live_daphne, task_path(world))
    visit(bob, live_daphne, task_path(world))
    visit(bob_elsewhere, live_daphne, reverse("kanban:board_detail", args=[world.board.pk]))
    wait_live(alice, "#comment-connection-status")
    wait_live(bob, "#comment-connection-status")
    expect(bob_elsewhere.page.locator("body")).to_have_attribute(
        "data-notifications-socket", "open", timeout=LIVE_TIMEOUT_MS
    )

    box = alice.page.locator("#comment-input")
    box.fill("@bob " + LIVE_TEXT)
    alice.page.locator("#comment-form button[type=submit]").click()

    arrived = bob.page.locator("#comment-log .chat-msg .body", has_text=PAYLOADS[4])
    expect(arrived).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert arrived.inner_text() == "@bob " + LIVE_TEXT
    arrived.hover()

    # The mention reaches bob's other tab as a toast (its text quotes the comment) over
    # ws/notifications/.
    toast = bob_elsewhere.page.locator(".notification-toast-link")
    expect(toast).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert re.search(re.escape(PAYLOADS[0]), toast.inner_text())
    toast.hover()
    alice.assert_clean("alice's task page")
    bob.assert_clean("bob's task page")
    bob_elsewhere.assert_clean("bob's board page")


def test_the_watchers_catch_a_real_injection(browser: Browser):
    """The detectors themselves: on a page without our CSP, the same payload does fire."""
    context = browser.new_context()
    page = context.new_page()
    watched = Watched(page)
    page.on("dialog", lambda d: (watched.dialogs.append(d.message), d.dismiss()))
    with page.expect_event("dialog"):
        page.set_content(f"<div>{PAYLOADS[0]}</div>")
    assert watched.dialogs == ["1"]
    assert page.evaluate(FIND_INJECTED) == ["IMG onerror", "element IMG"]
    context.close()


# --- Markdown vectors -------------------------------------------------------------------
# XSS in a real browser, Markdown vectors: hostile Markdown sent live over the chat socket,
# edited live, and shown again after a reload and in a thread, is inert in the other member's
# window (no dialog, no CSP violation, no handler attribute or javascript: link), and links keep
# target=_blank with rel="noopener noreferrer nofollow".

LINKS = """() => Array.from(document.querySelectorAll("#chat-log .body a")).map(
  (a) => [a.getAttribute("href"), a.getAttribute("target"), a.getAttribute("rel")])"""


def test_markdown_vectors_are_inert_live_after_edit_and_after_reload(
    hostile_team,
    live_daphne,
    open_as,
):
    alice, bob = both_live_in_the_room(hostile_team, live_daphne, open_as)
    box = alice.page.locator("#chat-input")
    # Three vectors per message (blank-line separated), under the chat rate limit.
    vectors = MARKDOWN_VECTORS
    messages = ["\n\n".join(vectors[i : i + 3]) for i in range(0, len(vectors), 3)]
    for text in [*messages, "safe https://example.com/ok"]:
        box.fill(text)
        box.press("Enter")
    # The world's own message (bob's), alice's messages and her safe one: all of them. (The
    # count once left out the world's message and passed only when it caught the log
    # midway, one message short.)
    expect(bob.page.locator("#chat-log .chat-msg")).to_have_count(
        len(messages) + 2, timeout=LIVE_TIMEOUT_MS
    )
    expect(bob.page.locator("#chat-log .chat-msg").last).to_contain_text(
        "safe https://example.com/ok"
    )
    for locator in bob.page.locator("#chat-log .chat-msg .body").all():
        locator.hover()
    bob.assert_clean("bob's room, live")
    links = bob.page.evaluate(LINKS)
    assert ["https://example.com/ok", "_blank", "noopener noreferrer nofollow"] in links
    for href, target, rel in links:
        assert href.lower().startswith(("http://", "https://", "mailto:")), href
        assert (target, rel) == ("_blank", "noopener noreferrer nofollow")

    # An edit into a vector arrives as message_edited html: inert too. (Up arrow edits the
    # last confirmed message: wait until alice's own window has confirmed them all.)
    expect(alice.page.locator("#chat-log .chat-msg.own.pending")).to_have_count(0)
    alice.page.locator("#chat-input").press("ArrowUp")
    editor = alice.page.locator("#chat-log .edit-input")
    editor.fill("[edited](javascript:alert(1)) <img src=x onerror=alert(1)>")
    editor.press("Enter")
    expect(bob.page.locator("#chat-log .chat-msg .edited:visible")).to_have_count(1)
    bob.assert_clean("bob's room, after a live edit")

    bob.page.reload()
    wait_live(bob, "#connection-status")
    bob.assert_clean("bob's room, reloaded")
    alice.assert_clean("alice's room")
