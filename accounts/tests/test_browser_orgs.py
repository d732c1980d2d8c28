"""The organization journey in a real browser against a live daphne: alice invites a new
address, the link opened in a second browser context signs up and joins, alice puts the
newcomer on a board and in a room, and they chat live. Plus the members-page screenshot."""

from __future__ import annotations

import os
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership, Organization
from kanban.management.commands.seed_demo import DEMO_PASSWORD
from tests.factories import (
    BoardFactory,
    ChatRoomFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
NEW_PASSWORD = "Newcomer-pass-4711"


class Problems:
    """Uncaught JS errors and CSP violations on a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"CSP: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )


def new_page(browser: Browser) -> tuple[Page, Problems]:
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page, Problems(page)


def test_invited_newcomer_signs_up_joins_and_chats_on_a_board(
    transactional_db, live_daphne, browser: Browser, login_page
):
    alice = UserFactory(username="alice", display_name="Alice A.")
    acme = OrganizationFactory(name="Acme", slug="acme", owner=alice)
    board = BoardFactory(name="Launch", created_by=alice, organization=acme)
    room = ChatRoomFactory(board=board, name="general", created_by=alice)
    url = live_daphne.url

    # alice invites a new address and copies the link the page shows her.
    inviter, inviter_problems = new_page(browser)
    login_page(inviter, live_daphne, "alice")
    inviter.goto(f"{url}{acme.get_absolute_url()}")
    inviter.fill("#invite-form input[name=email]", "newbie@example.com")
    inviter.click("#invite-form button[type=submit]")
    invitation = inviter.locator("#org-invitations li", has_text="newbie@example.com")
    expect(invitation).to_have_count(1)
    link = invitation.locator(".invitation-link").input_value()
    assert re.fullmatch(rf"{re.escape(url)}/invite/[^/]+/", link), link

    # A second browser, logged in as nobody, opens it, signs up and lands in Acme.
    newcomer, newcomer_problems = new_page(browser)
    newcomer.goto(link)
    expect(newcomer.locator("h1")).to_have_text("Join Acme")
    expect(newcomer.locator("input[name=email]")).to_have_value("newbie@example.com")
    newcomer.fill("input[name=username]", "newbie")
    newcomer.fill("input[name=password1]", NEW_PASSWORD)
    newcomer.fill("input[name=password2]", NEW_PASSWORD)
    newcomer.click("form button[type=submit]")
    newcomer.wait_for_url(f"{url}{acme.get_absolute_url()}")
    expect(newcomer.locator("#org-members [data-username=newbie]")).to_have_count(1)
    assert Membership.objects.get(user__username="newbie").organization == acme
    # The link is used up.
    newcomer.goto(link)
    expect(newcomer.locator("#invite-error")).to_contain_text("already used")

    # alice sees the newcomer among the members and adds them to the board and the room.
    inviter.goto(f"{url}{acme.get_absolute_url()}")
    expect(inviter.locator("#org-members [data-username=newbie]")).to_have_count(1)
    inviter.goto(f"{url}{reverse('kanban:board_members', args=[board.pk])}")
    inviter.fill("input[name=username]", "newbie")
    inviter.click("form button:has-text('Add member')")
    expect(inviter.locator("#member-list")).to_contain_text("@newbie")
    inviter.goto(f"{url}{room.get_absolute_url()}")
    inviter.select_option("select[name=user]", label="newbie (@newbie)")
    inviter.click("form button:has-text('Add')")
    expect(inviter.locator("#member-list [data-username=newbie]")).to_have_count(1)
    expect(inviter.locator("#connection-status")).to_have_text("Live")

    # The newcomer finds the board under Acme on My boards and chats in the room.
    newcomer.goto(f"{url}/")
    expect(newcomer.locator("[data-org-slug=acme] .board-summary")).to_have_text(
        re.compile("Launch")
    )
    newcomer.goto(f"{url}{room.get_absolute_url()}")
    expect(newcomer.locator("#connection-status")).to_have_text("Live")
    newcomer.fill("#chat-input", "hello from the newcomer")
    newcomer.press("#chat-input", "Enter")
    expect(
        inviter.locator("#chat-log .chat-msg .body", has_text="hello from the newcomer")
    ).to_have_count(1)

    assert inviter_problems.errors == [] and newcomer_problems.errors == []
    inviter.context.close()
    newcomer.context.close()


def test_screenshot_organization_members_page(
    transactional_db, live_daphne, browser: Browser, login_page, tmp_path
):
    """The Acme members page of the demo (with a pending invitation) into
    $TASKFLOW_SCREENSHOTS/org-members.png (or a temporary directory)."""
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    call_command("seed_demo", stdout=StringIO())
    acme = Organization.objects.get(slug="acme")

    page, problems = new_page(browser)
    login_page(page, live_daphne, "alice", DEMO_PASSWORD)
    page.goto(f"{live_daphne.url}{acme.get_absolute_url()}")
    page.fill("#invite-form input[name=email]", "dana@example.com")
    page.click("#invite-form button[type=submit]")
    expect(page.locator("#org-invitations li", has_text="dana@example.com")).to_have_count(1)
    expect(page.locator("#org-members li")).to_have_count(3)
    page.screenshot(path=str(out_dir / "org-members.png"), full_page=True)
    assert problems.errors == []
    page.context.close()
