"""The colour theme is remembered per user, server-side, and rendered on every page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User


def test_theme_defaults_to_following_the_device(alice_client):
    html = alice_client.get(reverse("kanban:board_list")).content.decode()

    assert 'data-theme-pref="auto"' in html
    assert "data-bs-theme=" not in html  # theme-init.js picks it from prefers-color-scheme


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_chosen_theme_is_saved_and_rendered_on_the_next_page(alice_client, alice, theme):
    response = alice_client.post(
        reverse("accounts:theme"), {"theme": theme}, headers={"X-Requested-With": "fetch"}
    )

    assert response.status_code == 200
    assert response.json() == {"theme": theme}
    alice.refresh_from_db()
    assert alice.theme == theme
    html = alice_client.get(reverse("messaging:inbox")).content.decode()
    assert f'data-bs-theme="{theme}"' in html  # no flash: the server paints it


def test_theme_form_without_javascript_redirects_back_with_a_message(alice_client, alice):
    response = alice_client.post(reverse("accounts:theme"), {"theme": "dark"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("accounts:profile")
    assert "Theme saved." in response.content.decode()
    alice.refresh_from_db()
    assert alice.theme == User.Theme.DARK


def test_unknown_theme_is_refused_with_a_sentence(alice_client, alice):
    response = alice_client.post(
        reverse("accounts:theme"), {"theme": "neon"}, headers={"X-Requested-With": "fetch"}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Theme: choose auto, light or dark."}
    alice.refresh_from_db()
    assert alice.theme == User.Theme.AUTO


def test_theme_change_needs_a_post(alice_client):
    assert alice_client.get(reverse("accounts:theme")).status_code == 405


def test_signed_out_theme_post_goes_to_login(client, db):
    response = client.post(reverse("accounts:theme"), {"theme": "dark"})

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
