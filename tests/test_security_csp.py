"""Content-Security-Policy: every app page forbids inline script, and no page needs it.

The policy is the second line of defence against XSS (escaping is the first): with
`script-src 'self'` and no 'unsafe-inline', an injected <script> or onerror= does not run.
That only holds if our own pages never rely on inline script, so the templates are checked
as source (every <script> tag has a src or is a JSON data block; no on*= handlers, no
javascript: URLs) and every rendered page is checked the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.csp import assert_strict_policy, audit
from tests.security_routes import FAST_HASHERS, World, routes

TEMPLATE_DIRS = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]] + [
    p
    for app in ("accounts", "kanban", "messaging")
    if (p := settings.BASE_DIR / app / "templates").is_dir()
]
TEMPLATES = sorted(path for d in TEMPLATE_DIRS for path in d.rglob("*.html"))

# Pages the issue names, all of which must be among the pages checked.
MAIN_PAGES = {
    "kanban:board_list",
    "kanban:board_detail",
    "kanban:task_detail",
    "kanban:board_members",
    "messaging:inbox",
    "messaging:room_list",
    "messaging:room_detail",
    "messaging:task_comments",
    "messaging:notifications",
    "accounts:profile",
}
# --- templates as source ----------------------------------------------------------------


def test_templates_were_found():
    names = {p.name for p in TEMPLATES}
    assert {"base.html", "board_detail.html", "room_detail.html"} <= names
    assert len(TEMPLATES) >= 20


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_template_has_no_inline_script(path: Path):
    source = path.read_text()
    # Template tags inside tags (e.g. {% if %} around an attribute) do not matter here; strip
    # comments so commented-out markup is not judged.
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", source, flags=re.S)
    assert audit(source).problems == []


def test_the_audit_catches_inline_script():
    """The checker itself: each forbidden form is reported."""
    bad = (
        "<script>alert(1)</script>"
        '<img src=x onerror="alert(1)">'
        '<a href=" javascript:alert(1)">x</a>'
        '<script type="module">import "x"</script>'
    )
    assert len(audit(bad).problems) == 4
    good = '<script src="/static/a.js"></script><script type="application/json">{}</script>'
    assert audit(good).problems == []


# --- rendered pages ---------------------------------------------------------------------


@pytest.fixture
def world(db, alice, bob, carol, settings) -> World:
    settings.PASSWORD_HASHERS = FAST_HASHERS
    return World.build(alice, [bob, carol])


def html_pages(world: World) -> dict[str, object]:
    """Every GET route that renders HTML for alice (a member and the board's creator)."""
    client = Client()
    client.force_login(world.owner)
    pages = {}
    for route in routes():
        response = client.get(world.url_for(route))
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages[route.name] = response
    return pages


def test_every_html_page_sends_a_strict_csp_and_has_no_inline_script(world):
    pages = html_pages(world)
    assert set(pages) >= MAIN_PAGES, MAIN_PAGES - set(pages)
    for name, response in pages.items():
        assert_strict_policy(response)
        found = audit(response.content.decode())
        assert found.problems == [], name
    # Not vacuous: the pages do load scripts, from files.
    assert audit(pages["kanban:board_detail"].content.decode()).scripts >= 2


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/"])
def test_anonymous_pages_send_a_strict_csp(path, db):
    response = Client().get(path)
    assert response.status_code == 200
    assert_strict_policy(response)
    assert audit(response.content.decode()).problems == []


def test_not_found_page_sends_a_strict_csp(world):
    client = Client()
    client.force_login(world.owner)
    response = client.get("/boards/987654321/")
    assert response.status_code == 404
    assert_strict_policy(response)


def test_admin_is_the_only_exclusion(world, settings):
    """The admin ships inline scripts, so it is excluded by prefix, and nothing else is."""
    assert settings.CONTENT_SECURITY_POLICY["EXCLUDE_URL_PREFIXES"] == ["/admin/"]
