"""In a real browser against a live daphne: a person makes a token on /accounts/tokens/,
copies it once, and a script uses it; the API docs render from this site's own files under
the strict Content-Security-Policy, with no violation and no request elsewhere. Screenshots
of the tokens page (light and dark) go to $TASKFLOW_SCREENSHOTS (or a temporary directory)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import BoardFactory, UserFactory

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000


class Watch:
    """Uncaught errors, CSP violations and requests to other hosts on a page."""

    def __init__(self, page: Page, host: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.on(
            "request",
            lambda request: (
                self.foreign.append(request.url)
                if request.url.startswith("http") and urlsplit(request.url).netloc != host
                else None
            ),
        )


def open_page(browser: Browser, server, **context) -> tuple[Page, Watch]:
    page = browser.new_context(viewport={"width": 1280, "height": 800}, **context).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page, Watch(page, urlsplit(server.url).netloc)


def api_get(server, path: str, token: str) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_token_made_on_the_page_works_for_a_script_until_revoked(
    transactional_db, live_daphne, browser: Browser, login_page, tmp_path
):
    alice = UserFactory(username="alice", display_name="Alice A.")
    BoardFactory(name="Launch", created_by=alice)
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)

    page, watch = open_page(browser, live_daphne)
    login_page(page, live_daphne, "alice")
    page.goto(f"{live_daphne.url}/accounts/tokens/")
    page.fill("#token-form input[name=name]", "deploy script")
    page.check("#token-form input[name=scopes][value=write]")
    page.click("#token-form button[type=submit]")
    secret = page.locator("#new-token-value").input_value()
    assert secret.startswith("tfp_")
    expect(page.locator("#token-table tbody tr")).to_have_count(1)
    expect(page.locator("#token-table")).to_contain_text("deploy script")
    page.screenshot(path=str(out_dir / "api-tokens.png"), full_page=True)

    status, boards = api_get(live_daphne, "/api/v1/boards/", secret)
    assert status == 200 and [b["name"] for b in boards] == ["Launch"]
    page.reload()  # the secret is not shown again; the list says it was used
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("#token-table")).not_to_contain_text("never")

    page.click("#token-table button:has-text('Revoke')")
    page.click("#confirm-accept")
    expect(page.locator("#token-table")).to_contain_text("revoked")
    status, body = api_get(live_daphne, "/api/v1/boards/", secret)
    assert status == 401 and "detail" in body
    assert watch.errors == [] and watch.foreign == []
    page.context.close()

    dark, dark_watch = open_page(browser, live_daphne, color_scheme="dark")
    login_page(dark, live_daphne, "alice")
    dark.goto(f"{live_daphne.url}/accounts/tokens/")
    dark.screenshot(path=str(out_dir / "api-tokens-dark.png"), full_page=True)
    assert dark_watch.errors == []
    dark.context.close()


def test_api_docs_render_offline_under_the_csp(
    transactional_db, live_daphne, browser: Browser, tmp_path
):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    page, watch = open_page(browser, live_daphne)
    page.goto(f"{live_daphne.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("TaskFlow API")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/chat/rooms/{room_id}/messages/")
    ).to_have_count(2)  # GET and POST
    expect(page.locator(".authorize")).to_have_count(1)  # Bearer and cookie schemes
    page.screenshot(path=str(out_dir / "api-docs.png"))
    assert watch.errors == []
    assert watch.foreign == []
    page.context.close()
