"""Browser-test helpers for the messaging journeys (chat, conversations, attachments): the
watched page (`Viewer`), paths, waiting for "Live", sending, a switchable network and the
side-by-side screenshot. Plain helpers, not tests: test modules import this, never each other."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.urls import reverse
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

# Long enough for a daphne round trip on a busy 2-core machine; auto-waiting returns earlier.
LIVE_TIMEOUT_MS = 10_000


@dataclass
class Viewer:
    """One logged-in person's page plus everything that went wrong on it."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def log_items(self, selector: str = "#chat-log .chat-msg") -> Locator:
        return self.page.locator(selector)

    def item(self, text: str, selector: str = "#chat-log .chat-msg") -> Locator:
        return self.page.locator(selector).filter(
            has=self.page.locator(".body", has_text=re.compile(f"^{re.escape(text)}$"))
        )

    def assert_clean(self) -> None:
        assert self.errors == [], f"JS errors / CSP violations: {self.errors}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"


def room_path(room) -> str:
    return reverse("messaging:room_detail", args=[room.pk])


def task_path(task) -> str:
    return reverse("kanban:task_detail", args=[task.pk])


def wait_live(viewer: Viewer, status: str = "#connection-status") -> None:
    expect(viewer.page.locator(status)).to_have_text("Live", timeout=LIVE_TIMEOUT_MS)


def send_chat(viewer: Viewer, text: str) -> None:
    box = viewer.page.locator("#chat-input")
    box.fill(text)
    box.press("Enter")


class SocketSwitch:
    """Takes a page's network down and up again, as when a laptop loses Wi-Fi.

    Chromium's offline emulation fails new connections (WebSocket handshakes and fetches) but
    may leave an open WebSocket alive, so the chat socket is routed through Playwright and
    closed explicitly when the network goes down."""

    def __init__(self) -> None:
        self.down = False
        self.page: Page | None = None
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.attempts_while_down = 0

    def install(self, page: Page) -> None:
        self.page = page
        page.route_web_socket(re.compile(r"/ws/chat-room/\d+/$"), self.handle)

    def handle(self, ws: WebSocketRoute) -> None:
        if self.down:
            self.attempts_while_down += 1
        # The page makes the real connection, so while offline this handshake fails.
        self.open.append((ws, ws.connect_to_server()))

    def cut(self) -> None:
        assert self.page is not None
        self.down = True
        self.page.context.set_offline(True)
        for page_side, server_side in self.open:
            server_side.close()
            page_side.close(code=1011, reason="test: network down")
        self.open.clear()

    def restore(self) -> None:
        assert self.page is not None
        self.down = False
        self.page.context.set_offline(False)


def side_by_side(browser: Browser, left: Page, right: Page, labels: tuple[str, str], out: Path):
    """Screenshot two pages and compose them into one PNG through a third page (no Pillow)."""
    shots = [base64.b64encode(p.screenshot(full_page=False)).decode() for p in (left, right)]
    html = (
        "<!doctype html><html><body style='margin:0;display:flex;gap:12px;padding:12px;"
        "background:#343a40;font:14px system-ui,sans-serif;color:#fff'>"
        + "".join(
            f"<figure style='margin:0'><figcaption style='padding:0 0 6px'>{label}</figcaption>"
            f"<img style='display:block;border:1px solid #6c757d' "
            f"src='data:image/png;base64,{shot}'></figure>"
            for label, shot in zip(labels, shots, strict=True)
        )
        + "</body></html>"
    )
    composer = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        composer.set_content(html)
        composer.wait_for_function(
            "Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)"
        )
        composer.screenshot(path=str(out), full_page=True)
    finally:
        composer.close()
    assert out.stat().st_size > 10_000
