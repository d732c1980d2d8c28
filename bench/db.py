"""The bench database: a fresh PostgreSQL database (or SQLite file), migrated, then dropped.

The orchestrator never points its own Django connection at it: ORM work runs in
`python -m bench.dbtasks` children with DATABASE_URL set, so whatever database the calling
shell names is never touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .servers import ROOT


class BenchDatabase:
    def __init__(self, *, pg_url: str | None, name: str, sqlite: bool) -> None:
        self.sqlite = sqlite
        self.name = name
        self.pg_url = pg_url
        self._tmp: tempfile.TemporaryDirectory | None = None
        if sqlite:
            self._tmp = tempfile.TemporaryDirectory(prefix="taskflow-bench-")
            self.url = f"sqlite:///{Path(self._tmp.name) / 'bench.sqlite3'}"
        else:
            assert pg_url, "PostgreSQL needs --pg-url"
            parts = urlsplit(pg_url)
            self.url = urlunsplit(parts._replace(path=f"/{name}"))
            self.admin_url = urlunsplit(parts._replace(path="/postgres"))

    @property
    def vendor(self) -> str:
        return "sqlite" if self.sqlite else "postgresql"

    def create(self) -> None:
        if self.sqlite:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.sqlite:
            if self._tmp:
                self._tmp.cleanup()
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def env(self, base: dict[str, str]) -> dict[str, str]:
        return {**base, "DATABASE_URL": self.url}

    def migrate(self, env: dict[str, str]) -> None:
        run = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if run.returncode:
            raise RuntimeError(f"migrate failed:\n{run.stdout}\n{run.stderr}")

    def task(self, env: dict[str, str], name: str, args: dict, *, timeout: float = 600) -> dict:
        """Run one bench.dbtasks function against this database; its JSON result."""
        run = subprocess.run(
            [sys.executable, "-m", "bench.dbtasks", name],
            cwd=ROOT,
            env=self.env(env),
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if run.returncode:
            raise RuntimeError(f"dbtask {name} failed:\n{run.stderr[-3000:]}")
        return json.loads(run.stdout.strip().splitlines()[-1])
