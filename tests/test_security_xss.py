"""XSS, server side: hostile text in every user-editable field is rendered as text.

Each payload of the corpus is stored (directly, past any service validation: rendering must
be safe whatever is in the database) in every field a user controls: board name and
description, column name, task title and description, room name and description, chat
message, comment, notification text and display names. Every HTML page of the URLconf is
then rendered for a member and checked: the raw payload never appears (only its escaped
form), no element, handler attribute, inline script or javascript: URL was injected, and,
so the check is not vacuous, each main page does show the fields it is meant to show, as
literal text. Forms that echo input back (validation errors, flash messages) are posted
the payloads too. The same corpus runs in a real browser in test_security_xss_browser.py.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils.html import escape

from tests.security_routes import FAST_HASHERS, World, routes
from tests.xss_corpus import EXPECTED_TEXT, PAYLOADS, hostile_world, tagged


class PageText(HTMLParser):
    """The text a person sees (entities decoded), and anything that looks injected."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.injected: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        where = f"<{tag}> at line {self.getpos()[0]}"
        if tag in ("svg", "iframe", "object", "embed"):
            self.injected.append(where)
        if tag == "img" and values.get("src") == "x":
            self.injected.append(where)
        if tag == "script":
            self._in_script = True
            if "src" not in values and (values.get("type") or "").lower() != "application/json":
                self.injected.append(f"inline script {where}")
        for name, value in attrs:
            if name.startswith("on"):
                self.injected.append(f"{name}= on {where}")
            if name == "autofocus" and tag not in ("input", "textarea", "select"):
                self.injected.append(f"autofocus on {where}")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.injected.append(f"javascript: URL on {where}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if not self._in_script:
            self.text.append(data)


def inspect(content: str) -> PageText:
    parser = PageText()
    parser.feed(content)
    parser.close()
    return parser


def assert_safe(name: str, content: str, payload: str) -> PageText:
    page = inspect(content)
    assert page.injected == [], f"{name}: injected {page.injected}"
    if any(ch in payload for ch in "<>\"'&"):
        assert payload not in content, f"{name}: raw payload in the HTML"
    return page


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def expected_in_text(field: str, payload: str) -> str:
    if field in ("member", "assignee", "commenter"):
        field = "member"
    return tagged(field, payload)[:80]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_stored_payloads_render_as_text_on_every_page(payload, alice, bob, carol):
    world = hostile_world(payload, alice, bob, carol)
    checked = set()
    for viewer in (alice, bob):
        client = Client()
        client.force_login(viewer)
        for route in routes():
            response = client.get(world.url_for(route))
            content_type = response.get("Content-Type", "")
            if response.status_code != 200:
                continue
            if response.get("Content-Disposition", "").startswith("attachment;"):
                # Issue 12: a file is a download, never rendered by the browser.
                assert response["X-Content-Type-Options"] == "nosniff"
                assert response["Content-Security-Policy"] == "sandbox"
                continue
            if not content_type.startswith("text/html"):
                # JSON carries the raw text for textContent; it must never be sniffed as HTML.
                assert content_type.startswith("application/json"), route.name
                assert response["X-Content-Type-Options"] == "nosniff"
                continue
            page = assert_safe(route.name, response.content.decode(), payload)
            if viewer == alice and route.name in EXPECTED_TEXT:
                text = "".join(page.text)
                for field in EXPECTED_TEXT[route.name]:
                    assert expected_in_text(field, payload) in text, (route.name, field)
                checked.add(route.name)
    assert checked == set(EXPECTED_TEXT)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_echoed_input_is_escaped(payload, alice, bob, carol):
    """Every POST route gets the payload in every field; whatever page comes back (form
    errors, or the flash message after a redirect) is safe."""
    world = World.build(alice, [bob, carol])
    data = {
        key: payload
        for key in (
            "name",
            "description",
            "title",
            "content",
            "message",
            "username",
            "display_name",
            "email",
            "user",
            "action",
            "position",
            "column",
            "direction",
            "priority",
            "due_date",
            "assignee",
            "next",
            "client_id",
        )
    }
    client = Client()
    client.force_login(alice)
    for route in routes():
        # Logging out would end the client's session; admin_logout also lands on the Django
        # admin's login page, whose own SVG icons the detector would count as injected.
        if route.name in ("accounts:logout", "admin_logout"):
            continue
        response = client.post(world.url_for(route), data, follow=True)
        if response.get("Content-Type", "").startswith("text/html"):
            assert_safe(route.name, response.content.decode(), payload)
    # The login form echoes the username back on failure.
    response = Client().post("/accounts/login/", {"username": payload, "password": "x"})
    assert response.status_code == 200
    assert_safe("login", response.content.decode(), payload)
    assert escape(payload) in response.content.decode()  # shown back, escaped
