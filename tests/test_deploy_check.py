"""`manage.py check --deploy` passes under the documented production environment.

Runs the real command in a subprocess (settings are read once per process, so the
production environment cannot be patched into this test process). The companion tests show
the check is not vacuous: the same environment without the HTTPS settings fails it, and the
settings it produces are the hardened ones.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def production_env() -> dict[str, str]:
    """The production environment documented in the README ("Production settings")."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),  # 86 characters, fresh every run
        "DJANGO_ALLOWED_HOSTS": "taskflow.example.com",
        "DJANGO_SECURE_SSL_REDIRECT": "1",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_SECURE_COOKIES": "1",
        "DJANGO_BEHIND_TLS_PROXY": "1",
    }


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DJANGO_") and k not in ("REDIS_URL", "DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "kanban_board.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_env():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_check_deploy_fails_without_https_settings():
    """The same check flags a production deployment that skips the HTTPS hardening."""
    env = production_env()
    for name in ("DJANGO_SECURE_SSL_REDIRECT", "DJANGO_HSTS_SECONDS", "DJANGO_SECURE_COOKIES"):
        env[name] = "0"
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in output


def test_debug_off_without_secret_key_refuses_to_start():
    env = {**production_env(), "DJANGO_SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DEBUG", False),
        ("ALLOWED_HOSTS", ["taskflow.example.com"]),
        ("SESSION_COOKIE_SECURE", True),
        ("CSRF_COOKIE_SECURE", True),
        ("SESSION_COOKIE_HTTPONLY", True),
        ("SECURE_SSL_REDIRECT", True),
        ("SECURE_HSTS_SECONDS", 31536000),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", True),
        ("SECURE_PROXY_SSL_HEADER", ["HTTP_X_FORWARDED_PROTO", "https"]),
        ("SECURE_CONTENT_TYPE_NOSNIFF", True),
        ("X_FRAME_OPTIONS", "DENY"),
    ],
)
def test_production_env_yields_hardened_settings(name, expected, production_settings):
    assert production_settings[name] == expected


@pytest.fixture(scope="module")
def production_settings() -> dict:
    names = [
        "DEBUG",
        "ALLOWED_HOSTS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "X_FRAME_OPTIONS",
    ]
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = manage("shell", "-c", code, env=production_env())
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
