"""The search journey in a real browser (chromium) against a live daphne: search a word from
the nav, click the result, land on the message highlighted in the middle of its room's history,
load older and newer messages, and still receive live messages; a reply opens its thread, a
comment its task."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, expect

from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import (
    BoardFactory,
    ChatMessageFactory,
    ChatRoomFactory,
    ColumnFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    """alice and bob in #general with 130 messages; one of them, in the middle, is the one
    bob is looking for."""
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    before = [
        ChatMessageFactory(chat_room=room, author=alice, content=f"older {i}") for i in range(65)
    ]
    target = post_chat_message(
        room=room, author=alice, content="The staging password rotation plan is in the vault"
    )
    after = [
        ChatMessageFactory(chat_room=room, author=bob, content=f"newer {i}") for i in range(65)
    ]
    return SimpleNamespace(
        alice=alice, bob=bob, room=room, target=target, before=before, after=after
    )


def open_as(browser: Browser, live_daphne, login_page, username: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": 1000, "height": 820})
    page = context.new_page()
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
    login_page(page, live_daphne, username)
    return page, errors


def test_search_a_word_click_the_result_and_land_on_the_message(
    team, browser, live_daphne, login_page
):
    bob, bob_errors = open_as(browser, live_daphne, login_page, "bob")
    bob.goto(f"{live_daphne.url}/")
    bob.locator("#nav-search-input").fill("rotation")
    bob.locator("#nav-search-input").press("Enter")
    bob.wait_for_url(re.compile(r"/search/\?q=rotation"))
    result = bob.locator("#results-messages .search-result")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text("rotation")

    result.locator("a.result-link").click()
    bob.wait_for_url(re.compile(rf"/messaging/room/{team.room.pk}/\?around={team.target.pk}"))
    target = bob.locator(f"#message-{team.target.pk}")
    expect(target).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(target).to_be_in_viewport()
    expect(bob.locator("#connection-status")).to_have_text("Live")
    log = bob.locator("#chat-log .chat-msg")
    expect(log).to_have_count(50)  # 25 older, the message, 24 newer

    # Older history loads above...
    expect(bob.locator(f"#message-{team.before[0].pk}")).to_have_count(0)
    bob.locator("#load-older").click()
    expect(log).to_have_count(90)
    expect(bob.locator(f"#message-{team.before[0].pk}")).to_have_count(1)
    expect(bob.locator("#load-older")).to_be_hidden()

    # ...and newer history below, until the present.
    expect(bob.locator(f"#message-{team.after[-1].pk}")).to_have_count(0)
    bob.locator("#load-newer").click()
    expect(bob.locator(f"#message-{team.after[-1].pk}")).to_have_count(1)
    expect(bob.locator("#load-newer")).to_be_hidden()
    expect(log).to_have_count(131)
    ids = [int(i) for i in log.evaluate_all("els => els.map(e => e.dataset.messageId)")]
    assert ids == sorted(ids) and len(set(ids)) == 131

    # Live updates keep working: alice writes, bob sees it at the bottom.
    alice, alice_errors = open_as(browser, live_daphne, login_page, "alice")
    alice.goto(f"{live_daphne.url}/messaging/room/{team.room.pk}/")
    expect(alice.locator("#connection-status")).to_have_text("Live")
    alice.locator("#chat-input").fill("found it, thanks")
    alice.locator("#chat-input").press("Enter")
    expect(log.last.locator(".body")).to_have_text("found it, thanks")
    assert bob_errors == [] and alice_errors == []


def test_search_a_comment_and_land_on_it_in_the_task_thread(team, browser, live_daphne, login_page):
    column = ColumnFactory(board=team.room.board, name="Doing")
    from kanban import services as kanban_services

    task = kanban_services.create_task(column=column, title="Rotate keys", created_by=team.alice)
    comment = post_task_comment(task=task, author=team.alice, content="use the hardware token")
    bob, errors = open_as(browser, live_daphne, login_page, "bob")
    bob.goto(f"{live_daphne.url}/search/?q=hardware")
    bob.locator("#results-comments a.result-link").click()
    bob.wait_for_url(re.compile(rf"/tasks/{task.pk}/\?around={comment.pk}"))
    expect(bob.locator(f"#comment-{comment.pk}")).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(bob.locator("#comment-connection-status")).to_have_text("Live")
    assert errors == []


def test_search_a_reply_and_land_on_it_in_its_thread(team, browser, live_daphne, login_page):
    reply = post_chat_message(
        room=team.room,
        author=team.alice,
        content="the hardware token is in the top drawer",
        parent_id=team.target.pk,
    )
    bob, errors = open_as(browser, live_daphne, login_page, "bob")
    bob.goto(f"{live_daphne.url}/search/?q=hardware")
    bob.locator("#results-messages a.result-link").click()
    bob.wait_for_url(re.compile(rf"/messaging/room/{team.room.pk}/\?around={reply.pk}"))
    expect(bob.locator(f"#chat-log #message-{team.target.pk}")).to_have_class(
        re.compile(r"\bhighlighted\b")
    )
    expect(bob.locator(f"#chat-log #message-{team.target.pk}")).to_be_in_viewport()
    expect(bob.locator("#thread-panel")).to_be_visible()
    in_thread = bob.locator(f"#thread-log #message-{reply.pk}")
    expect(in_thread).to_have_class(re.compile(r"\bhighlighted\b"))
    expect(in_thread.locator(".body")).to_have_text("the hardware token is in the top drawer")
    assert errors == []


def test_screenshot_search(transactional_db, browser, live_daphne, login_page, tmp_path):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    general = ChatRoomFactory(board=board, name="general", members=[bob])
    ops = ChatRoomFactory(board=board, name="ops", members=[bob])
    from kanban import services as kanban_services

    column = ColumnFactory(board=board, name="To Do")
    task = kanban_services.create_task(
        column=column,
        title="Staging password rotation",
        description="Rotate every staging password before the audit.",
        created_by=alice,
    )
    post_chat_message(
        room=general, author=alice, content="Where is the staging password rotation plan?"
    )
    post_chat_message(
        room=ops, author=bob, content="Rotation plan for staging is pinned in #ops, see the task."
    )
    post_chat_message(room=ops, author=alice, content="@bob the <b>rotation</b> runs Friday night")
    post_task_comment(
        task=task, author=bob, content="Draft rotation plan attached to the task description"
    )
    page, errors = open_as(browser, live_daphne, login_page, "bob")
    page.goto(f"{live_daphne.url}/search/?q=rotation+plan")
    expect(page.locator("#results-messages .search-result")).to_have_count(2)
    page.screenshot(path=str(out_dir / "search.png"), full_page=True)
    assert (out_dir / "search.png").stat().st_size > 10_000
    assert errors == []
