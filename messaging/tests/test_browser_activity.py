"""Issue 11 journeys in a real browser (chromium) against a live daphne (embedded mode: eager
Celery, in-memory channel layer): alice assigns bob a task and bob, on another page, sees his
badge and a toast; he dismisses it on the notifications page and the count follows."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.factories import BoardFactory, ColumnFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.browser

LIVE_TIMEOUT_MS = 10_000  # a daphne round trip on a busy 2-core machine; waits return earlier
SCREENSHOTS = os.environ.get("TASKFLOW_SCREENSHOTS")


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    task = TaskFactory(column=ColumnFactory(board=board, name="To Do"), title="Ship it")
    return SimpleNamespace(alice=alice, bob=bob, board=board, task=task)


@pytest.fixture
def open_as(browser: Browser, live_daphne, login_page) -> Iterator[Callable[..., Page]]:
    """Factory: a fresh browser context logged in as `username`, showing `path`. JS errors
    and CSP violations are collected on `page.errors`."""
    contexts = []

    def open_page(username: str, path: str, **context_args) -> Page:
        context_args.setdefault("viewport", {"width": 1000, "height": 800})
        context = browser.new_context(**context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                page.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        login_page(page, live_daphne, username)
        page.goto(f"{live_daphne.url}{path}")
        return page

    yield open_page
    for context in contexts:
        context.close()


def wait_socket_open(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-notifications-socket", "open")


def test_alice_assigns_bob_a_task_and_his_badge_and_toast_appear_then_he_dismisses_it(
    team, open_as, live_daphne
):
    bob = open_as("bob", reverse("kanban:board_list"))
    wait_socket_open(bob)
    expect(bob.locator("#notification-badge")).to_have_attribute("data-count", "0")

    alice = open_as("alice", reverse("kanban:task_edit", args=[team.task.pk]))
    alice.select_option("#id_assignee", label="Bob B.")
    alice.get_by_role("button", name="Save").click()
    alice.wait_for_url(lambda url: "/edit/" not in url)

    toast = bob.locator(".notification-toast")
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text('alice assigned you "Ship it" on Launch')
    expect(bob.locator("#notification-badge")).to_have_text("1")
    expect(toast.locator("a")).to_have_attribute(
        "href", reverse("kanban:task_detail", args=[team.task.pk])
    )

    # The notifications page lists it; dismissing it empties the list and the badge.
    bob.goto(live_daphne.url + reverse("messaging:notifications"))
    wait_socket_open(bob)
    row = bob.locator("#notification-list li.notification")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("alice assigned you")
    row.get_by_role("button", name="Dismiss").click()
    expect(row).to_have_count(0)
    expect(bob.locator("#notifications-empty")).to_be_visible()
    expect(bob.locator("#notification-badge")).to_have_attribute("data-count", "0")
    assert bob.errors == [] and alice.errors == []


def test_the_preferences_page_saves_and_offers_browser_notifications(team, open_as):
    page = open_as(
        "bob", reverse("accounts:notification_preferences"), permissions=["notifications"]
    )
    expect(page.locator("#browser-notifications-status")).to_have_text(
        "Browser notifications are on for this browser."
    )
    expect(page.locator("#browser-notifications-enable")).to_be_hidden()  # nothing to ask
    page.select_option("#id_mention", "hourly")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".alert")).to_contain_text("Notification preferences saved.")
    expect(page.locator("#id_mention")).to_have_value("hourly")
    assert page.errors == []


def test_a_direct_message_in_a_hidden_tab_shows_a_browser_notification(team, open_as):
    """With permission granted, a direct message arriving while the tab is hidden becomes a
    system notification (the page's Notification constructor records what it is asked to
    show; headless chromium has no notification centre to look at)."""
    from messaging.services.direct import get_or_create_direct_room

    room, _ = get_or_create_direct_room(sender=team.alice, usernames=["bob"])
    bob = open_as("bob", reverse("kanban:board_list"), permissions=["notifications"])
    bob.evaluate(
        """() => {
          window.__shown = [];
          const Real = window.Notification;
          class Recording extends Real {
            constructor(title, options) {
              window.__shown.push(options.body);
              document.body.dataset.shown = JSON.stringify(window.__shown);
              super(title, options);
            }
          }
          Object.defineProperty(window, "Notification", { value: Recording, configurable: true });
          Object.defineProperty(document, "hidden", { get: () => true, configurable: true });
          Object.defineProperty(document, "visibilityState", {
            get: () => "hidden", configurable: true,
          });
        }"""
    )
    wait_socket_open(bob)
    assert bob.evaluate("Notification.permission") == "granted"

    alice = open_as("alice", reverse("messaging:room_detail", args=[room.pk]))
    expect(alice.locator("#connection-status")).to_have_text("Live")
    alice.locator("#chat-input").fill("are you there?")
    alice.locator("#chat-input").press("Enter")

    expect(bob.locator("body")).to_have_attribute(
        "data-shown", '["alice sent you a message: \\"are you there?\\""]'
    )
    assert bob.errors == [] and alice.errors == []


def test_screenshot_notifications_and_preferences_fit_a_phone_in_dark_mode(
    team, open_as, live_daphne, tmp_path
):
    """The notifications list (every activity kind) and the preferences page, light on a
    laptop and dark on a phone: nothing wider than the screen."""
    from messaging.models import Notification

    out_dir = Path(SCREENSHOTS or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    Type = Notification.Type
    for kind, text, link in [
        (Type.TASK_ASSIGNED, 'alice assigned you "Ship it" on Launch', {"task": team.task}),
        (Type.BOARD_INVITE, "alice added you to the board Launch", {"board": team.board}),
        (
            Type.TASK_COMMENT,
            'alice commented on "Ship it": "Looks good, merging now"',
            {"task": team.task},
        ),
    ]:
        Notification.objects.create(
            recipient=team.bob, sender=team.alice, notification_type=kind, text=text, **link
        )
    type(team.bob).objects.filter(pk=team.bob.pk).update(theme="dark")

    laptop = open_as("alice", reverse("accounts:notification_preferences"))
    laptop.screenshot(path=str(out_dir / "notification-preferences.png"))
    phone = open_as(
        "bob", reverse("messaging:notifications"), viewport={"width": 390, "height": 844}
    )
    expect(phone.locator("#notification-list li.notification")).to_have_count(3)
    expect(phone.locator("html")).to_have_attribute("data-bs-theme", "dark")
    for path, name in [
        (reverse("messaging:notifications"), "notifications-phone-dark.png"),
        (reverse("accounts:notification_preferences"), "notification-preferences-phone-dark.png"),
    ]:
        phone.goto(live_daphne.url + path)
        wide = phone.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{path} is {wide}px wide on a 390px phone"
        phone.screenshot(path=str(out_dir / name), full_page=True)
    assert laptop.errors == [] and phone.errors == []
