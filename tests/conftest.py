"""Fixtures shared by the tests in tests/ (the root conftest has the project-wide ones)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from tests.cluster import Cluster, health, staff_cookie
from tests.live import DaphneServer, database_url_for


@pytest.fixture
def start_cluster(
    postgres,
    transactional_db,
    broker_url,
) -> Iterator[Callable[..., Cluster]]:
    """Factory: two daphne processes sharing the claimed Redis database and the test
    database, Celery publishing to that database for real (no eager mode). Keyword arguments
    are extra environment for both. All are stopped before the database is flushed."""
    database_url = database_url_for(connection.settings_dict)
    started: list[DaphneServer] = []

    def start(**extra_env: str) -> Cluster:
        env = {"CELERY_TASK_ALWAYS_EAGER": "0", "CELERY_BROKER_URL": broker_url, **extra_env}
        servers = [
            DaphneServer(database_url=database_url, redis_url=broker_url, extra_env=env)
            for _ in range(2)
        ]
        started.extend(servers)
        for server in servers:  # both boot at once; started here, in the owning thread
            server.launch()
        for server in servers:
            server.wait_ready(timeout=60)
        cookie = staff_cookie()
        for server in servers:
            report = health(server, cookie)
            assert report["ok"], report
            assert report["database"]["backend"] == "postgresql"
            assert report["channel_layer"]["backend"] == "RedisChannelLayer"
            assert report["broker"]["backend"] != "eager (in-process)"
        return Cluster(*servers, database_url=database_url, redis_url=broker_url)

    yield start
    for server in started:
        server.stop()
