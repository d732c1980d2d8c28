"""XSS in a real browser, Markdown vectors: hostile Markdown sent live over the chat socket,
edited live, and shown again after a reload and in a thread, is inert in the other member's
window (no dialog, no CSP violation, no handler attribute or javascript: link), and links keep
target=_blank with rel="noopener noreferrer nofollow"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_security_xss_browser import (
    LIVE_TIMEOUT_MS,
    hostile_team,  # noqa: F401 - fixture
    open_as,  # noqa: F401 - fixture
    room_path,
    visit,
    wait_live,
)
from tests.test_security_xss_markdown import VECTORS

pytestmark = pytest.mark.browser

LINKS = """() => Array.from(document.querySelectorAll("#chat-log .body a")).map(
  (a) => [a.getAttribute("href"), a.getAttribute("target"), a.getAttribute("rel")])"""


def test_markdown_vectors_are_inert_live_after_edit_and_after_reload(
    hostile_team,  # noqa: F811 - the imported fixture
    live_daphne,
    open_as,  # noqa: F811 - the imported fixture
):
    world = hostile_team
    alice = open_as("alice")
    bob = open_as("bob")
    visit(alice, live_daphne, room_path(world))
    visit(bob, live_daphne, room_path(world))
    wait_live(alice, "#connection-status")
    wait_live(bob, "#connection-status")
    box = alice.page.locator("#chat-input")
    # Three vectors per message (blank-line separated), under the chat rate limit.
    messages = ["\n\n".join(VECTORS[i : i + 3]) for i in range(0, len(VECTORS), 3)]
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
