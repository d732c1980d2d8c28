"""`make seed` on a fresh machine (embedded mode: no REDIS_URL, SQLite): the demo data is
created with nothing on the console but the command's own report (no broker warnings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_seeding_the_demo_prints_no_warnings(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "CELERY_", "DJANGO_", "DATABASE_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    manage("migrate", "--noinput", "-v0", env=env)

    seeded = manage("seed_demo", env=env)

    assert "Demo logins" in seeded.stdout
    assert seeded.stderr == "", seeded.stderr
