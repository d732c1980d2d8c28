"""The kanban journey in a real browser (chromium) against a live daphne server.

Drag and drop is done with real mouse moves in small steps, as a person would, so SortableJS
sees the same events it sees in use. Every page must finish without a JS error or a CSP
violation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Browser, Locator, Page, expect

from accounts.models import User
from kanban.management.commands.seed_demo import BOARD_NAME, DEMO_PASSWORD
from kanban.models import Board, Task
from tests.factories import PASSWORD, TaskThreadCommentFactory, UserFactory, add_board_members

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000  # a busy 2-core machine; auto-waiting returns as soon as it can


class PageProblems:
    """Collects uncaught JS errors and CSP violations reported on a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, msg) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            self.errors.append(f"CSP: {msg.text}")

    def assert_none(self) -> None:
        assert self.errors == [], self.errors


@pytest.fixture
def watched_page(page: Page) -> Iterator[tuple[Page, PageProblems]]:
    page.set_default_timeout(TIMEOUT_MS)
    problems = PageProblems(page)
    yield page, problems
    problems.assert_none()


def column(page: Page, name: str) -> Locator:
    return page.locator(".board-column[data-column-id]").filter(
        has=page.locator(".column-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


def cards_in(page: Page, name: str) -> Locator:
    return column(page, name).locator(".task-list .task-card")


def drag(page: Page, source: Locator, target: Locator) -> None:
    """Press on `source`, move to the middle of `target` in small steps, release."""
    source.scroll_into_view_if_needed()
    src = source.bounding_box()
    dst = target.bounding_box()
    assert src and dst
    # A third of the way in: the middle of a card is its title link.
    page.mouse.move(src["x"] + src["width"] / 3, src["y"] + src["height"] / 2)
    page.mouse.down()
    page.mouse.move(src["x"] + src["width"] / 3 + 5, src["y"] + src["height"] / 2 + 5, steps=5)
    page.mouse.move(dst["x"] + dst["width"] / 2, dst["y"] + dst["height"] / 2, steps=25)
    page.mouse.up()


def is_move(response) -> bool:
    return response.request.method == "POST" and re.search(r"/tasks/\d+/move/$", response.url)


def test_signup_create_board_add_task_drag_it_and_it_stays_moved(
    transactional_db, live_daphne, watched_page, browser: Browser, login_page
):
    page, _ = watched_page
    base = live_daphne.url

    # Sign up through the real form.
    page.goto(f"{base}{reverse('accounts:signup')}")
    page.fill("input[name=username]", "erin")
    page.fill("input[name=display_name]", "Erin E.")
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", "correct-horse-battery-9")
    page.fill("input[name=password2]", "correct-horse-battery-9")
    page.click("form button[type=submit]")
    expect(page.get_by_role("heading", name="My boards")).to_be_visible()

    # Create a board.
    page.get_by_role("link", name="New board").click()
    page.fill("input[name=name]", "Erin's launch")
    page.get_by_role("button", name="Create board").click()
    expect(page.get_by_role("heading", name="Erin's launch")).to_be_visible()
    board_url = page.url
    for name in ("To Do", "In Progress", "Done"):
        expect(column(page, name)).to_be_visible()

    # The board's socket is live (on connecting it fetches the board state and redraws it).
    expect(page.locator("#board-connection")).to_have_text("Live")

    # Add a task with the column's quick-add form.
    todo = column(page, "To Do")
    todo.locator("input[name=title]").fill("Write the launch post")
    todo.get_by_role("button", name="Add task").click()
    expect(cards_in(page, "To Do")).to_have_text([re.compile("Write the launch post")])

    # Drag it to "In Progress"; the drop is saved with a POST to the move endpoint.
    card = cards_in(page, "To Do").first
    # Let the page settle first: the new card's frame may make it fetch the board state, and
    # a redraw under the pointer before the drag has started would drop it.
    page.wait_for_load_state("networkidle")
    with page.expect_response(is_move) as moved:
        drag(page, card, column(page, "In Progress").locator(".task-list"))
    assert moved.value.ok, moved.value.text()
    assert moved.value.json()["ok"] is True
    expect(cards_in(page, "In Progress")).to_have_count(1)
    expect(column(page, "In Progress").locator(".column-count")).to_have_text("1")
    expect(page.locator("#board-error")).to_be_hidden()

    # After a reload the card is still in the new column.
    page.reload()
    expect(cards_in(page, "In Progress")).to_have_text([re.compile("Write the launch post")])
    expect(cards_in(page, "To Do")).to_have_count(0)
    assert Task.objects.get(title="Write the launch post").column.name == "In Progress"

    # Someone who is not a member gets a 404 for the same URL.
    UserFactory(username="mallory")
    context = browser.new_context()
    try:
        stranger = context.new_page()
        login_page(stranger, live_daphne, "mallory", PASSWORD)
        response = stranger.goto(board_url)
        assert response is not None and response.status == 404
    finally:
        context.close()


def test_refused_move_puts_the_card_back_and_shows_the_reason(
    transactional_db, live_daphne, watched_page, login_page
):
    """Membership is revoked while the page is open: the server refuses the drop."""
    from kanban import services

    page, _ = watched_page
    owner = UserFactory(username="olga")
    member = UserFactory(username="pete")
    board = services.create_board(name="Shared", created_by=owner)
    add_board_members(board, member)
    todo = board.columns.get(name="To Do")
    for title in ("First", "Second"):
        services.create_task(column=todo, title=title, created_by=owner)

    login_page(page, live_daphne, "pete", PASSWORD)
    page.goto(f"{live_daphne.url}{board.get_absolute_url()}")
    expect(cards_in(page, "To Do")).to_have_count(2)
    services.remove_member(board=board, user=member, removed_by=owner)

    with page.expect_response(is_move) as moved:
        drag(page, cards_in(page, "To Do").first, column(page, "Done").locator(".task-list"))
    assert moved.value.status == 404

    expect(page.locator("#board-error")).to_be_visible()
    expect(page.locator("#board-error")).to_contain_text("Could not move “First”")
    expect(cards_in(page, "To Do")).to_have_text([re.compile("First"), re.compile("Second")])
    expect(cards_in(page, "Done")).to_have_count(0)
    expect(column(page, "To Do").locator(".column-count")).to_have_text("2")


def test_screenshot_board_and_task(transactional_db, live_daphne, browser: Browser, tmp_path):
    """Full-page screenshots of the demo board and one of its tasks, into $TASKFLOW_SCREENSHOTS
    (or a temporary directory), after checking the pages rendered."""
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    call_command("seed_demo", stdout=StringIO())
    board = Board.objects.get(name=BOARD_NAME)
    task = Task.objects.get(title="Design the onboarding tour")
    bob, carol = User.objects.get(username="bob"), User.objects.get(username="carol")
    TaskThreadCommentFactory(task=task, author=bob, content="Can step 2 show the board tour?")
    TaskThreadCommentFactory(task=task, author=carol, content="@bob yes, I'll mock it up today.")

    def log_in(context, username: str) -> Page:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{live_daphne.url}{reverse('accounts:login')}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bob_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = log_in(context, "alice")
        problems = PageProblems(page)

        page.goto(f"{live_daphne.url}{board.get_absolute_url()}")
        expect(page.locator(".task-card")).to_have_count(6)
        expect(cards_in(page, "In Progress")).to_have_count(2)
        expect(page.locator("#board-connection")).to_have_text("Live")
        # bob is on the board too ("who's here"), and his move shows on alice's board live.
        bob_page = log_in(bob_context, "bob")
        bob_page.goto(f"{live_daphne.url}{board.get_absolute_url()}")
        expect(page.locator("#board-viewers .viewer-avatar[title='Bob Baker']")).to_be_visible()
        expect(cards_in(page, "In Progress").locator(".task-label").first).to_be_visible()
        expect(page.locator(".task-checklist-count").first).to_have_text(re.compile(r"\d/\d"))
        page.screenshot(path=str(out_dir / "board.png"), full_page=True)

        page.goto(f"{live_daphne.url}{task.get_absolute_url()}")
        expect(page.get_by_role("heading", name=task.title)).to_be_visible()
        expect(page.locator("#comment-log")).to_contain_text("I'll mock it up today")
        page.screenshot(path=str(out_dir / "task.png"), full_page=True)

        problems.assert_none()
    finally:
        context.close()
        bob_context.close()
    for name in ("board.png", "task.png"):
        assert (out_dir / name).stat().st_size > 10_000
