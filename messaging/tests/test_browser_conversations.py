"""Conversation journeys (issue 10) in a real browser against a live daphne: a direct
message, a reply in a thread, an edit showing "(edited)" live, a delete live, a reaction
live, a Markdown code block, and a window that was offline catching up on all of them.

Deleting asks in the app's own dialog; a native confirm() would be recorded (and accepted),
and any other native dialog, JS error or CSP violation fails the test."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, expect

from messaging.models import Notification
from messaging.services.posting import post_chat_message
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory

from .browser import (
    LIVE_TIMEOUT_MS,
    SocketSwitch,
    Viewer,
    room_path,
    send_chat,
    side_by_side,
    wait_live,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """The daphne child process checks real password hashes (see test_browser_chat.py)."""


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    return SimpleNamespace(alice=alice, bob=bob, board=board, room=room)


@pytest.fixture
def open_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Viewer]]:
    """Like test_browser_chat's, but a confirm() is accepted (and recorded in `confirms`)."""
    contexts = []

    def open_page(username: str, path: str, *, before_goto=None, width: int = 900) -> Viewer:
        context = browser.new_context(viewport={"width": width, "height": 820})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        viewer = Viewer(page)
        viewer.confirms = []
        page.on("pageerror", lambda exc: viewer.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                viewer.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )

        def on_dialog(dialog) -> None:
            if dialog.type == "confirm":
                viewer.confirms.append(dialog.message)
                dialog.accept()
            else:
                viewer.dialogs.append(dialog.message)
                dialog.dismiss()

        page.on("dialog", on_dialog)
        login_page(page, live_daphne, username)
        if before_goto is not None:
            before_goto(page)
        page.goto(f"{live_daphne.url}{path}")
        return viewer

    yield open_page
    for context in contexts:
        context.close()


def item(viewer: Viewer, text: str, scope: str = "#chat-log"):
    return viewer.page.locator(f"{scope} .chat-msg").filter(
        has=viewer.page.locator(".body", has_text=re.compile(f"^{re.escape(text)}$"))
    )


def confirmed(viewer: Viewer) -> None:
    """Every message this viewer sent is confirmed by the server (none pending). Up arrow
    edits the last confirmed message only: a pending one has no id yet. (bob can see a
    message before alice's own window hears its echo.)"""
    expect(viewer.page.locator("#chat-log .chat-msg.own.pending")).to_have_count(0)
    expect(viewer.page.locator("#chat-log .chat-msg.own").last).to_have_attribute(
        "data-message-id", re.compile(r"^[1-9][0-9]*$")
    )


def pair(team, open_as) -> tuple[Viewer, Viewer]:
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    return alice, bob


def test_direct_message_alice_to_bob(team, open_as):
    """alice picks bob from the "New message" suggestions and writes; bob, reading the room,
    sees it live and gets no toast and no badge: his direct_message notification is read at
    once."""
    UserFactory(username="bea")  # starts with "b" too, but shares no organization with alice
    alice = open_as("alice", "/messaging/")
    to = alice.page.locator("#new-message-to")
    to.press_sequentially("b")
    suggestions = alice.page.locator("#new-message-people option")
    expect(suggestions).to_have_count(1)
    expect(suggestions).to_have_attribute("value", "bob")
    to.fill("bob")
    alice.page.locator("#new-message button[type=submit]").click()
    expect(alice.page.locator("h1")).to_contain_text("alice, bob")
    wait_live(alice)
    bob = open_as("bob", "/messaging/")
    bob.page.locator("#inbox a", has_text="Direct message").click()
    wait_live(bob)
    expect(bob.page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    send_chat(alice, "hi bob, got a minute?")
    expect(item(bob, "hi bob, got a minute?")).to_have_count(1)
    expect(item(bob, "hi bob, got a minute?").locator(".author")).to_have_text("Alice A.")
    note = None
    for _ in range(50):  # the notification is created, then read by bob's open page
        note = Notification.objects.filter(recipient=team.bob).first()
        if note is not None and note.is_read:
            break
        bob.page.wait_for_timeout(100)
    assert note is not None and note.notification_type == "direct_message" and note.is_read
    expect(bob.page.locator("#notification-badge")).to_have_text("0")
    expect(bob.page.locator(".notification-toast")).to_have_count(0)
    alice.assert_clean()
    bob.assert_clean()


def test_reply_in_a_thread(team, open_as):
    post_chat_message(room=team.room, author=team.alice, content="Who takes the release?")
    alice, bob = pair(team, open_as)
    root = item(bob, "Who takes the release?")
    root.hover()
    root.locator("[data-action=reply]").click()
    expect(bob.page.locator("#thread-panel")).to_be_visible()
    bob.page.locator("#thread-input").fill("I will")
    bob.page.locator("#thread-input").press("Enter")
    expect(item(bob, "I will", "#thread-log")).to_have_count(1)
    # The reply is in the thread, not the log; alice sees the count live and opens it.
    expect(item(alice, "I will")).to_have_count(0)
    replies = item(alice, "Who takes the release?").locator(".replies")
    expect(replies).to_have_text("1 reply")
    replies.click()
    expect(item(alice, "I will", "#thread-log")).to_have_count(1)
    alice.assert_clean()
    bob.assert_clean()


def test_edit_shows_edited_live_in_bobs_window(team, open_as):
    alice, bob = pair(team, open_as)
    send_chat(alice, "teh plan")
    expect(item(bob, "teh plan")).to_have_count(1)
    expect(item(alice, "teh plan")).to_have_count(1)
    confirmed(alice)
    # Up arrow in the empty message box edits my last message.
    alice.page.locator("#chat-input").press("ArrowUp")
    editor = alice.page.locator("#chat-log .edit-input")
    expect(editor).to_have_value("teh plan")
    editor.fill("the plan")
    editor.press("Enter")
    fixed = item(bob, "the plan")
    expect(fixed).to_have_count(1)
    expect(fixed.locator(".edited")).to_be_visible()
    expect(fixed.locator(".edited")).to_have_text("(edited)")
    fixed.locator(".edited").click()
    expect(fixed.locator(".versions li")).to_have_count(2)
    expect(fixed.locator(".versions li").first).to_contain_text("teh plan")
    alice.assert_clean()
    bob.assert_clean()


def test_delete_live_after_confirmation(team, open_as):
    alice, bob = pair(team, open_as)
    send_chat(alice, "oops, wrong room")
    expect(item(bob, "oops, wrong room")).to_have_count(1)
    mine = item(alice, "oops, wrong room")
    mine.hover()
    mine.locator("[data-action=delete]").click()
    dialog = alice.page.get_by_role("dialog", name="Are you sure?")  # the app's own dialog
    expect(dialog).to_contain_text("Delete this message? This cannot be undone.")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(item(bob, "oops, wrong room")).to_have_count(1)  # cancelled: nothing happened

    mine.hover()
    mine.locator("[data-action=delete]").click()
    dialog.get_by_role("button", name="Delete message").click()
    assert alice.confirms == []  # no native confirm() on the way
    expect(item(bob, "oops, wrong room")).to_have_count(0)
    expect(bob.page.locator("#chat-log .chat-msg.deleted .tombstone")).to_have_text(
        "message deleted"
    )
    bob.page.reload()
    expect(bob.page.locator("#chat-log")).not_to_contain_text("oops, wrong room")
    alice.assert_clean()
    bob.assert_clean()


def test_reaction_live(team, open_as):
    alice, bob = pair(team, open_as)
    send_chat(alice, "shipped!")
    theirs = item(bob, "shipped!")
    expect(theirs).to_have_count(1)
    theirs.hover()
    theirs.locator("[data-action=react]").click()
    theirs.locator(".emoji-picker .pick", has_text="🎉").click()
    reaction = item(alice, "shipped!").locator(".reaction")
    expect(reaction).to_have_text("🎉 1")
    expect(reaction).to_have_attribute("title", "bob")
    # Clicking a reaction toggles mine: alice adds hers.
    reaction.click()
    expect(theirs.locator(".reaction")).to_have_text("🎉 2")
    alice.assert_clean()
    bob.assert_clean()


def test_markdown_message_with_a_code_block(team, open_as):
    alice, bob = pair(team, open_as)
    box = alice.page.locator("#chat-input")
    box.fill("Try **this**:\n```\nprint('<b>hi</b>')\n```")
    box.press("Enter")
    code = bob.page.locator("#chat-log .chat-msg pre code")
    expect(code).to_have_text("print('<b>hi</b>')\n")
    expect(bob.page.locator("#chat-log .chat-msg .body strong")).to_have_text("this")
    expect(bob.page.locator("#chat-log .chat-msg .body b")).to_have_count(0)  # code stays text
    alice.assert_clean()
    bob.assert_clean()


def test_window_that_was_offline_converges_on_edits_deletes_reactions_and_replies(team, open_as):
    keep = post_chat_message(room=team.room, author=team.alice, content="keep me")
    gone = post_chat_message(room=team.room, author=team.alice, content="delete me")
    switch = SocketSwitch()
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room), before_goto=switch.install)
    wait_live(alice)
    wait_live(bob)
    switch.cut()
    expect(bob.page.locator("#connection-status")).not_to_have_text("Live")
    from messaging.services.editing import delete_chat_message, edit_chat_message
    from messaging.services.reactions import toggle_reaction

    edit_chat_message(message=keep, editor=team.alice, content="keep me, edited")
    delete_chat_message(message=gone, deleted_by=team.alice)
    toggle_reaction(post=keep, user=team.alice, emoji="👀")
    post_chat_message(room=team.room, author=team.alice, content="a reply", parent_id=keep.pk)
    switch.restore()
    wait_live(bob)
    edited = item(bob, "keep me, edited")
    expect(edited).to_have_count(1)
    expect(edited.locator(".edited")).to_be_visible()
    expect(edited.locator(".reaction")).to_have_text("👀 1")
    expect(edited.locator(".replies")).to_have_text("1 reply")
    expect(item(bob, "delete me")).to_have_count(0)
    expect(bob.page.locator("#chat-log .chat-msg.deleted")).to_have_count(1)
    alice.assert_clean()
    bob.assert_clean()


def test_screenshot_conversations(team, open_as, browser, tmp_path):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = post_chat_message(
        room=team.room, author=team.alice, content="Release plan for **Friday**:"
    )
    post_chat_message(room=team.room, author=team.bob, content="I'll take QA", parent_id=root.pk)
    alice, bob = pair(team, open_as)
    send_chat(
        alice, "Deploy with:\n```\nmake release TAG=v2.1\n```\n@bob see https://example.com/runbook"
    )
    expect(item(bob, "Release plan for Friday:")).to_have_count(1)
    theirs = item(bob, "Release plan for Friday:")
    theirs.hover()
    theirs.locator("[data-action=react]").click()
    theirs.locator(".emoji-picker .pick", has_text="👍").click()
    expect(item(alice, "Release plan for Friday:").locator(".reaction")).to_have_text("👍 1")
    confirmed(alice)
    alice.page.locator("#chat-input").press("ArrowUp")
    editor = alice.page.locator("#chat-log .edit-input")
    expect(editor).to_be_visible()
    editor.press("Escape")
    item(alice, "Release plan for Friday:").locator(".replies").click()
    expect(item(alice, "I'll take QA", "#thread-log")).to_have_count(1)
    bob.page.mouse.move(0, 0)
    side_by_side(
        browser,
        alice.page,
        bob.page,
        ("alice: thread open", "bob: Markdown, mention, reaction"),
        out_dir / "conversations.png",
    )
    alice.assert_clean()
    bob.assert_clean()
