"""Files in conversations (issue 12) in a real browser against a live daphne of its own (files
under a temporary MEDIA_ROOT): alice pastes an image, bob sees the preview live and opens it
full size in the lightbox; a large upload shows its progress bar (upload throttled through
the DevTools protocol) and can be cancelled; a file card for a non-image."""

from __future__ import annotations

import base64
import io
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection
from PIL import Image
from playwright.sync_api import Browser, expect

from conftest import require
from messaging.models import Attachment
from messaging.services import attachments as service
from tests.factories import BoardFactory, ChatRoomFactory, UserFactory
from tests.live import DaphneServer, database_url_for

from .browser import LIVE_TIMEOUT_MS, Viewer, room_path, side_by_side, wait_live

pytestmark = pytest.mark.browser

MAX_BYTES = 8 * 1024 * 1024  # the daphne's ATTACHMENT_MAX_BYTES (the large upload is 6 MB)


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """The daphne child process checks real password hashes (see test_browser_chat.py)."""


@pytest.fixture(scope="module")
def media_daphne(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        url = database_url_for(connection.settings_dict)
    media = tmp_path_factory.mktemp("media")
    env = {"MEDIA_ROOT": str(media), "ATTACHMENT_MAX_BYTES": str(MAX_BYTES)}
    server = DaphneServer(database_url=url, extra_env=env).start()
    yield server
    server.stop()


@pytest.fixture
def team(transactional_db) -> SimpleNamespace:
    alice = UserFactory(username="alice", display_name="Alice A.")
    bob = UserFactory(username="bob", display_name="Bob B.")
    board = BoardFactory(name="Launch", created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, name="general", members=[bob])
    return SimpleNamespace(alice=alice, bob=bob, board=board, room=room)


@pytest.fixture
def open_as(browser: Browser, media_daphne, login_page) -> Iterator[Callable[..., Viewer]]:
    contexts = []

    def open_page(username: str, path: str, *, width: int = 700) -> Viewer:
        context = browser.new_context(viewport={"width": width, "height": 820})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(LIVE_TIMEOUT_MS)
        viewer = Viewer(page)
        page.on("pageerror", lambda exc: viewer.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                viewer.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        page.on("dialog", lambda d: (viewer.dialogs.append(d.message), d.dismiss()))
        login_page(page, media_daphne, username)
        page.goto(f"{media_daphne.url}{path}")
        return viewer

    yield open_page
    for context in contexts:
        context.close()


def screenshot_png() -> bytes:
    image = Image.new("RGB", (1200, 700), (245, 247, 250))
    for x in range(100, 1100):
        for y in (150, 151, 152, 400, 401, 402):
            image.putpixel((x, y), (13, 110, 253))
    image.paste((220, 53, 69), (200, 200, 500, 380))
    image.paste((25, 135, 84), (650, 250, 1000, 380))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


PASTE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const init = { clipboardData: data, bubbles: true, cancelable: true };
  document.querySelector("#chat-input").dispatchEvent(new ClipboardEvent("paste", init));
}"""


def paste_image(viewer: Viewer, data: bytes, name: str = "image.png") -> None:
    viewer.page.locator("#chat-input").focus()
    viewer.page.evaluate(PASTE, [base64.b64encode(data).decode(), name])


def test_alice_pastes_an_image_bob_sees_it_live_and_opens_it_full_size(team, open_as):
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    paste_image(alice, screenshot_png())
    expect(alice.page.locator(".att-upload .att-note")).to_have_text("ready")
    alice.page.locator("#chat-input").press("Enter")  # no text: the file alone

    preview = bob.page.locator("#chat-log .chat-msg .att-image img")
    expect(preview).to_have_count(1)
    bob.page.wait_for_function(
        "() => { const i = document.querySelector('#chat-log .att-image img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert (
        bob.page.evaluate("document.querySelector('#chat-log .att-image img').naturalWidth") == 400
    )
    preview.click()
    full = bob.page.locator(".att-lightbox img")
    expect(full).to_be_visible()
    bob.page.wait_for_function(
        "() => { const i = document.querySelector('.att-lightbox img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert bob.page.evaluate("document.querySelector('.att-lightbox img').naturalWidth") == 1200
    bob.page.keyboard.press("Escape")
    expect(full).to_have_count(0)
    expect(alice.page.locator("#chat-log .chat-msg:not(.pending) .att-image img")).to_have_count(1)
    alice.assert_clean()
    bob.assert_clean()


def test_large_upload_shows_progress_and_can_be_cancelled(team, open_as, tmp_path):
    alice = open_as("alice", room_path(team.room))
    wait_live(alice)
    cdp = alice.page.context.new_cdp_session(alice.page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": 1024 * 1024,
        },  # 1 MB/s
    )
    big = tmp_path / "dataset.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    alice.page.locator("input.att-input").set_input_files(str(big))
    bar = alice.page.locator(".att-upload progress.att-progress")
    expect(bar).to_be_visible()
    alice.page.wait_for_function(
        "() => { const p = document.querySelector('.att-upload progress');"
        " return p && p.value > 0.05 && p.value < 0.9; }"
    )
    alice.page.locator(".att-upload .att-cancel").click()
    expect(alice.page.locator(".att-upload")).to_have_count(0)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    # A small file then goes through and is sent as a card.
    small = tmp_path / "notes.txt"
    small.write_text("minutes of the meeting")
    alice.page.locator("input.att-input").set_input_files(str(small))
    expect(alice.page.locator(".att-upload .att-note")).to_have_text("ready")
    alice.page.locator("#chat-input").fill("notes attached")
    alice.page.locator("#chat-input").press("Enter")
    card = alice.page.locator("#chat-log .chat-msg:not(.pending) .att-card")
    expect(card.locator(".att-name")).to_have_text("notes.txt")
    expect(card.locator(".att-size")).to_have_text("22 B")
    assert list(Attachment.objects.values_list("name", flat=True)) == ["notes.txt"]
    alice.assert_clean()


DROP = """([text, name]) => {
  const data = new DataTransfer();
  data.items.add(new File([text], name, { type: "text/plain" }));
  const log = document.querySelector("#chat-log");
  for (const type of ["dragover", "drop"]) {
    log.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
  }
}"""


def test_paperclip_and_drop_onto_the_log_attach_files(team, open_as, tmp_path):
    """The paperclip button opens the file chooser; a file dropped onto the message log joins
    the tray too; both go with one message, as file cards, live to bob."""
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    chosen = tmp_path / "agenda.txt"
    chosen.write_text("1. files")
    with alice.page.expect_file_chooser() as chooser:
        alice.page.locator(".att-button").click()
    chooser.value.set_files(str(chosen))
    alice.page.evaluate(DROP, ["dropped bytes", "dropped.txt"])
    notes = alice.page.locator(".att-upload .att-note")
    expect(notes).to_have_text(["ready", "ready"])
    alice.page.locator("#chat-input").press("Enter")
    cards = bob.page.locator("#chat-log .chat-msg .att-card .att-name")
    expect(cards).to_have_text(["agenda.txt", "dropped.txt"])
    expect(alice.page.locator(".att-upload")).to_have_count(0)
    alice.assert_clean()
    bob.assert_clean()


def test_oversize_file_is_refused_with_the_limit_in_the_tray(team, open_as, tmp_path):
    """A file over ATTACHMENT_MAX_BYTES: daphne answers 413 while it streams and the tray
    shows the server's message; nothing is stored and the composer still works."""
    alice = open_as("alice", room_path(team.room))
    wait_live(alice)
    huge = tmp_path / "backup.tar"
    huge.write_bytes(b"\0" * (MAX_BYTES + 2 * 1024 * 1024))
    alice.page.locator("input.att-input").set_input_files(str(huge))
    note = alice.page.locator(".att-upload .att-note")
    expect(note).to_have_text("Files are limited to 8 MB.")
    expect(alice.page.locator(".att-upload progress.att-progress")).to_be_hidden()
    assert not Attachment.objects.exists()
    alice.page.locator(".att-upload .att-cancel").click()
    expect(alice.page.locator(".att-upload")).to_have_count(0)
    alice.page.locator("#chat-input").fill("sent without it")
    alice.page.locator("#chat-input").press("Enter")
    expect(alice.page.locator("#chat-log .chat-msg:not(.pending) .body")).to_have_text(
        "sent without it"
    )
    alice.assert_clean()


@pytest.mark.services
def test_placeholder_until_the_thumbnail_exists_then_the_preview_live(
    team, browser, login_page, tmp_path, settings
):
    """Previews are slow (no worker yet): bob first sees the placeholder; when the preview is
    made (the worker's task body, run here) `attachment_ready` reaches his page through the
    Redis layer and the placeholder becomes the image. Services tier: needs REDIS_URL."""
    redis_url = os.environ.get("REDIS_URL", "")
    require(bool(redis_url), "services", "REDIS_URL is not set")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    url = database_url_for(connection.settings_dict)
    env = {"MEDIA_ROOT": settings.MEDIA_ROOT, "CELERY_BROKER_URL": "memory://localhost/"}
    server = DaphneServer(database_url=url, redis_url=redis_url, extra_env=env).start()
    contexts = []
    try:
        viewers = {}
        for name in ("alice", "bob"):
            context = browser.new_context(viewport={"width": 700, "height": 820})
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(LIVE_TIMEOUT_MS)
            viewer = Viewer(page)
            page.on("pageerror", lambda exc, v=viewer: v.errors.append(f"pageerror: {exc}"))
            login_page(page, server, name)
            page.goto(f"{server.url}{room_path(team.room)}")
            wait_live(viewer)
            viewers[name] = viewer
        alice, bob = viewers["alice"], viewers["bob"]
        paste_image(alice, screenshot_png(), "chart.png")
        expect(alice.page.locator(".att-upload .att-note")).to_have_text("ready")
        alice.page.locator("#chat-input").press("Enter")
        pending = bob.page.locator("#chat-log .chat-msg .att-pending")
        expect(pending).to_have_text("Preparing preview of chart.png…")
        attachment = Attachment.objects.get()
        assert attachment.preview == Attachment.Preview.PENDING
        results = []
        worker = threading.Thread(
            target=lambda: results.append(service.make_previews(attachment.pk))
        )  # a thread of its own: Playwright keeps an event loop running in this one
        worker.start()
        worker.join(timeout=60)
        assert results == ["ready"]
        expect(pending).to_have_count(0)
        preview = bob.page.locator("#chat-log .chat-msg .att-image img")
        expect(preview).to_have_count(1)
        bob.page.wait_for_function(
            "() => { const i = document.querySelector('#chat-log .att-image img');"
            " return i && i.complete && i.naturalWidth === 400; }"
        )
        alice.assert_clean()
        bob.assert_clean()
    finally:
        for context in contexts:
            context.close()
        server.stop()


def test_screenshot_attachments(team, open_as, browser, tmp_path):
    out_dir = Path(os.environ.get("TASKFLOW_SCREENSHOTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    alice = open_as("alice", room_path(team.room))
    bob = open_as("bob", room_path(team.room))
    wait_live(alice)
    wait_live(bob)
    paste_image(alice, screenshot_png(), "dashboard.png")
    expect(alice.page.locator(".att-upload .att-note")).to_have_text("ready")
    alice.page.locator("#chat-input").fill("Here is the new dashboard")
    alice.page.locator("#chat-input").press("Enter")
    notes = tmp_path / "Q3 report.pdf"
    notes.write_bytes(b"%PDF-1.4\n" + b"0" * 180_000)
    alice.page.locator("input.att-input").set_input_files(str(notes))
    expect(alice.page.locator(".att-upload .att-note")).to_have_text("ready")
    alice.page.locator("#chat-input").fill("and the report")
    alice.page.locator("#chat-input").press("Enter")
    expect(bob.page.locator("#chat-log .att-card")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(bob.page.locator("#chat-log .att-image img")).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    bob.page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#chat-log img')).every(i => i.complete)"
    )
    bob.page.locator("#chat-log .att-image").click()
    bob.page.wait_for_function(
        "() => { const i = document.querySelector('.att-lightbox img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    side_by_side(
        browser,
        alice.page,
        bob.page,
        ("alice: an image and a PDF sent", "bob: the image opened full size"),
        out_dir / "attachments.png",
    )
    alice.assert_clean()
    bob.assert_clean()
