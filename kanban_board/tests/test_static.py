"""Static files in production: `collectstatic` writes hashed, compressed copies; pages link
the hashed names; WhiteNoise serves them with far-future, immutable cache headers (a changed
file gets a new name, so browsers never need to revalidate)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client

MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.fixture
def collected(settings, tmp_path):
    """Production static settings (DEBUG off, the manifest storage) over a fresh
    collectstatic in a temporary STATIC_ROOT."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    settings.WHITENOISE_AUTOREFRESH = False
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    call_command("collectstatic", interactive=False, verbosity=0)
    return tmp_path


@pytest.mark.django_db
def test_pages_link_hashed_names_served_with_long_cache_headers(collected):
    page = Client().get("/accounts/login/")
    assert page.status_code == 200
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.content.decode())
    css = next(link for link in links if link.startswith("/static/css/app."))
    assert re.fullmatch(r"/static/css/app\.[0-9a-f]{12}\.css", css), css
    assert any(re.fullmatch(r"/static/favicon\.[0-9a-f]{12}\.svg", link) for link in links)

    response = Client().get(css, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "max-age=315360000, public, immutable"
    assert response.headers["Content-Encoding"] == "gzip"  # the pre-compressed copy
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\x1f\x8b")


@pytest.mark.django_db
def test_an_unhashed_name_is_not_cached_for_long(collected):
    response = Client().get("/static/css/app.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]
