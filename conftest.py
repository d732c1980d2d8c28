"""Shared fixtures and the test tiers.

Tiers: the default tier runs everywhere (SQLite or the DATABASE_URL database, in-memory
channel layer, eager Celery). `services` tests need the real Redis (REDIS_URL) and, where
they say so, PostgreSQL (DATABASE_URL); `browser` tests need /usr/bin/chromium. A missing
requirement skips the test with its reason, except under CI=true where it fails.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.factories import PASSWORD, UserFactory

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = "/usr/bin/chromium"
IN_MEMORY_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def require(condition: bool, tier: str, reason: str) -> None:
    """Skip (locally) or fail (CI=true) a test whose tier cannot run here."""
    if condition:
        return
    message = f"{tier} tier: {reason}"
    if CI:
        pytest.fail(f"{message} (CI=true: this tier must run)", pytrace=False)
    pytest.skip(message)


# --- isolation: each default-tier test gets in-process infrastructure -------------------


@pytest.fixture(autouse=True)
def _no_pushback_from_earlier_tests():
    """messaging.pushback remembers how long the process's last post took: one slow post in
    an earlier test (a busy CI machine) must not make this test's posts answer slow_down."""
    from messaging import pushback

    pushback.gate.last_latency = 0.0
    # The HTTP posts' semaphore is sized from the settings on first use: a test that shrank
    # REALTIME_MAX_PENDING_POSTS must not leave a zero-sized one to the next test.
    pushback.gate._http = None
    yield


@pytest.fixture(autouse=True)
def _embedded_infrastructure(request, settings):
    """Default-tier tests use the in-memory layer, a local cache and eager Celery, whatever
    REDIS_URL says; `services`/`worker` tests opt into the real ones with fixtures."""
    from django.core.cache import cache

    from kanban_board.celery import app as celery_app

    if request.node.get_closest_marker("services") or request.node.get_closest_marker("worker"):
        yield
        return
    settings.CHANNEL_LAYERS = IN_MEMORY_LAYERS
    settings.CACHES = settings.EMBEDDED_CACHES  # what `make run` uses
    cache.clear()
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


@pytest.fixture(autouse=True)
def _plain_static_names(settings):
    """Tests run with DEBUG off and no collectstatic: {% static %} gives the plain names
    (ops: production uses hashed ones, kanban_board/tests/test_static.py covers them)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    """Issue 12: uploaded files go to a temporary MEDIA_ROOT, never into the checkout."""
    settings.MEDIA_ROOT = str(tmp_path_factory.getbasetemp() / "media")


# --- services tier ----------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _flush_survives_a_deadlock_with_live_children():
    """The live tiers' daphne and worker children share the test database and keep working
    for a moment after a test ends (a back-fill, a sweep). The flush that ends a transactional
    test truncates every table one lock at a time, so it can deadlock with a child's read that
    holds one of those tables and waits for another; PostgreSQL then cancels the flush (seen in
    CI: "deadlock detected" in TRUNCATE). Retry the flush once the other sessions are idle,
    instead of failing the next test's set-up."""
    from django.core.management.base import CommandError
    from django.db import OperationalError, connections
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def wait_until_others_idle(alias: str, bound: float = 20.0) -> None:
        import time

        conn = connections[alias]
        if conn.vendor != "postgresql":
            return
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            with conn.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                    " AND state IN ('active', 'idle in transaction')"
                )
                if cursor.fetchone()[0] == 0:
                    return
            time.sleep(0.1)

    def fixture_teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except CommandError as exc:
                cause = exc.__cause__
                if attempt == 4 or not (
                    isinstance(cause, OperationalError) and "deadlock" in str(cause)
                ):
                    raise
                for alias in self._databases_names(include_mirrors=False):
                    wait_until_others_idle(alias)

    TransactionTestCase._fixture_teardown = fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = original


def _redis_reachable(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    require(bool(url), "services", "REDIS_URL is not set")
    problem = _redis_reachable(url)
    require(problem is None, "services", f"Redis at {url} is unreachable ({problem})")
    return url


@pytest.fixture
def redis_layer(redis_url, settings):
    """Switch this test to the channels-redis layer on REDIS_URL (own prefix, flushed)."""
    import uuid

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }
    return settings.CHANNEL_LAYERS


# Worker and scale-out tests (ops): a Redis database of their own so parallel runs never
# share a queue, a layer or a cache.
REDIS_CLAIM_KEY = "taskflow:test-claim"


@pytest.fixture
def broker_url(redis_url):
    """A Redis database of our own on the REDIS_URL server (claimed with a SET NX key in DBs
    15..1), released, with the keys we left, after the test."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import redis

    parts = urlsplit(redis_url)
    token = uuid.uuid4().hex
    for db in range(15, 0, -1):
        url = urlunsplit(parts._replace(path=f"/{db}"))
        client = redis.Redis.from_url(url)
        try:
            if client.set(REDIS_CLAIM_KEY, token, nx=True, ex=900):
                break
        except redis.ResponseError:  # server has fewer databases
            continue
    else:
        require(False, "worker", "no free Redis database (1-15) to run a worker test in")
    yield url
    for pattern in ("celery*", "unacked*", "_kombu*", "asgi*", ":1:*"):
        for key in client.scan_iter(pattern):
            client.delete(key)
    if client.get(REDIS_CLAIM_KEY) == token.encode():
        client.delete(REDIS_CLAIM_KEY)


@pytest.fixture
def postgres(django_db_setup):
    from django.db import connection

    require(
        bool(os.environ.get("DATABASE_URL")) and connection.vendor == "postgresql",
        "services",
        "DATABASE_URL does not name a PostgreSQL database",
    )
    return connection


# --- channel layer -----------------------------------------------------------------------


class GroupListener:
    """A channel subscribed to groups on the current channel layer (in-memory by default),
    for asserting what a service broadcast: `events()` drains the raw events waiting."""

    def __init__(self, *groups: str) -> None:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        for group in groups:
            async_to_sync(self.layer.group_add)(group, self.channel)

    def events(self, timeout: float = 0.1) -> list[dict]:
        import asyncio

        from asgiref.sync import async_to_sync

        out: list[dict] = []

        async def drain() -> None:
            while True:
                try:
                    out.append(await asyncio.wait_for(self.layer.receive(self.channel), timeout))
                except TimeoutError:
                    return

        async_to_sync(drain)()
        return out

    def payloads(self, timeout: float = 0.1) -> list[dict]:
        """The JSON payloads of the prepared-text events waiting (room/thread broadcasts and
        per-user pushes alike)."""
        import json

        from messaging import realtime

        kinds = (realtime.FORWARD, realtime.USER_PUSH)
        return [json.loads(e["text"]) for e in self.events(timeout) if e["type"] in kinds]

    def access_changes(self, timeout: float = 0.1) -> int:
        from messaging import realtime

        return sum(1 for e in self.events(timeout) if e["type"] == realtime.ACCESS_CHANGED)


@pytest.fixture
def listen():
    """Factory: listen("chat_room_1", ...) -> a GroupListener on those groups."""
    return GroupListener


# --- users and clients ------------------------------------------------------------------


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", display_name="Alice A.")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", display_name="Bob B.")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", display_name="Carol C.")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def client_for(db):
    """Factory: a logged-in django.test.Client for any user."""
    from django.test import Client

    def make(user, **kwargs) -> Client:
        c = Client(**kwargs)
        c.force_login(user)
        return c

    return make


# --- live daphne + browser tier ---------------------------------------------------------


@pytest.fixture(scope="session")
def live_daphne(django_db_setup, django_db_blocker):
    """A daphne child process (embedded mode: in-memory layer, eager Celery) serving the test
    database. Tests that use it need `transactional_db` so their data is committed."""
    from django.db import connection

    from tests.live import DaphneServer, database_url_for

    with django_db_blocker.unblock():
        url = database_url_for(connection.settings_dict)
    server = DaphneServer(database_url=url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launch options: Debian's chromium, sandbox off, no phoning home."""
    require(
        os.path.exists(CHROMIUM) or bool(shutil.which("chromium")),
        "browser",
        f"{CHROMIUM} is not installed (apt-get install chromium)",
    )
    # Playwright's sync API runs an event loop in this thread; Django ORM use in the same
    # test (creating fixtures) is still plain synchronous code.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    }


@pytest.fixture
def login_page():
    """Factory: log a Playwright page in through the real login form."""

    def login(page, server, username: str, password: str = PASSWORD) -> None:
        page.goto(f"{server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/accounts/login/" not in u)

    return login


# --- ordering ---------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last. Playwright's sync API keeps an event loop running in the main
    thread for the rest of the session once a browser starts, and every async test after it
    would fail ("cannot be called from a running event loop"). Runs after pytest-django's own
    ordering (tryfirst), keeping it within each group."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# --- reporting --------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault tier's figures (tests/fault_harness.FIGURES), when it ran."""
    import sys

    harness = sys.modules.get("tests.fault_harness")
    if harness is not None and harness.FIGURES:
        terminalreporter.write_sep("=", "fault tier: what each scenario measured")
        for line in harness.table():
            terminalreporter.write_line(line)
