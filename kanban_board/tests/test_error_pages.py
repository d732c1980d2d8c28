"""Error pages with DEBUG off: styled in the app's layout, in words, with a way back; never
Django's debug page. And the production-safe `make run`: DEBUG off, a secret key generated
once into a local file."""

from __future__ import annotations

import re
import stat
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from kanban_board.secret_key import local_secret_key
from tests.factories import BoardFactory

ROOT = Path(__file__).resolve().parents[2]


@login_not_required
def _explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: do not show me")


def _refuse(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("internal reason: not for people")


urlpatterns = [
    path("explode/", _explode),
    path("refuse/", _refuse),
    path("", include("kanban_board.urls")),
]


@pytest.fixture
def debug_off(settings):
    settings.DEBUG = False
    return settings


def assert_styled_error(response, *, code: int, heading: str) -> str:
    html = response.content.decode()
    assert response.status_code == code
    assert heading in html
    assert f"Error {code}" in html
    assert 'href="/"' in html and "Go to my boards" in html  # a way back
    assert 'class="navbar' in html  # the app's layout
    assert "Traceback" not in html and "URLconf" not in html and "technical" not in html
    return html


def test_mistyped_url_gets_the_styled_404_page(debug_off, alice_client):
    response = alice_client.get("/boadrs/1/")

    html = assert_styled_error(response, code=404, heading="We can't find that page")
    assert "Alice A." in html  # signed in: the full nav
    assert "kanban:" not in html and "boards/<int:board_id>" not in html


def test_signed_out_mistyped_url_gets_the_styled_404_page_too(debug_off, client, db):
    assert_styled_error(client.get("/nowhere/"), code=404, heading="We can't find that page")


def test_board_that_is_not_yours_gets_the_same_styled_404(debug_off, client_for, carol, alice):
    board = BoardFactory(created_by=alice)

    response = client_for(carol).get(reverse("kanban:board_detail", args=[board.pk]))

    assert_styled_error(response, code=404, heading="We can't find that page")


@pytest.mark.urls(__name__)
def test_unexpected_exception_gets_the_styled_500_page_without_details(debug_off, db):
    client = Client(raise_request_exception=False)

    response = client.get("/explode/")

    html = assert_styled_error(response, code=500, heading="Something went wrong on our side")
    assert "secret internals" not in html
    assert "RuntimeError" not in html


@pytest.mark.urls(__name__)
def test_refused_action_gets_the_styled_403_page(debug_off, alice_client):
    response = alice_client.get("/refuse/")

    html = assert_styled_error(response, code=403, heading="You can't do that here")
    assert "Alice A." in html  # signed in: the full nav
    assert "internal reason" not in html


def test_expired_form_gets_the_styled_403_page(debug_off, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("kanban:board_create"), {"name": "x"})

    assert_styled_error(response, code=403, heading="That form has expired")


# --- the secret key file ----------------------------------------------------------------


def test_local_secret_key_is_made_once_private_and_then_reused(tmp_path):
    key_file = tmp_path / "keys" / ".secret_key"

    first = local_secret_key(key_file)
    second = local_secret_key(key_file)

    assert len(first) >= 50
    assert first == second
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind


def test_secret_key_file_is_git_ignored():
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".secret_key"], cwd=ROOT, capture_output=True, timeout=30
    )
    assert result.returncode == 0


# --- `make run` on a fresh clone --------------------------------------------------------


def make_run_environment() -> dict[str, str]:
    """The variables the Makefile's `run` target exports (read from the Makefile itself, so
    this test follows it)."""
    text = (ROOT / "Makefile").read_text()
    found = dict(re.findall(r"^run: export (\w+) \?= (\S+)$", text, flags=re.MULTILINE))
    assert found, "the Makefile's run target exports no settings"
    return found


def test_make_run_turns_debug_off_and_uses_a_generated_key_file():
    env = make_run_environment()

    assert env["DJANGO_DEBUG"] == "0"
    assert env["DJANGO_SECRET_KEY_FILE"] == ".secret_key"


def test_server_started_like_make_run_shows_no_debug_page(transactional_db, tmp_path):
    """kanban_board.serve with exactly `make run`'s environment and no DJANGO_SECRET_KEY:
    it starts, writes the key file, and a mistyped URL gets the styled 404."""
    from django.db import connection

    from tests.live import DaphneServer, database_url_for

    key_file = tmp_path / ".secret_key"
    env = {**make_run_environment(), "DJANGO_SECRET_KEY_FILE": str(key_file)}

    class FreshCloneServer(DaphneServer):
        def env(self) -> dict[str, str]:
            base = super().env()
            base.pop("DJANGO_SECRET_KEY", None)
            base.update(env)
            return base

    with FreshCloneServer(database_url=database_url_for(connection.settings_dict)) as server:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{server.url}/accounts/nope/", timeout=10)
        html = caught.value.read().decode()
    assert caught.value.code == 404
    assert "We can't find that page" in html
    assert "URLconf" not in html and "DEBUG = True" not in html
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600
