"""Two daphne processes on one Redis database and the test PostgreSQL database (the
scale-out topology), for tests that need it: `Cluster`, and the root-level `start_cluster`
fixture in tests/conftest.py that builds one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.factories import UserFactory
from tests.live import DaphneServer


@dataclass
class Cluster:
    p1: DaphneServer
    p2: DaphneServer
    database_url: str
    redis_url: str


def staff_cookie() -> str:
    """A session cookie of a staff user: /healthz names its backends to staff only."""
    from django.test import Client

    client = Client()
    client.force_login(UserFactory(username="healthz-staff", is_staff=True))
    return f"sessionid={client.cookies['sessionid'].value}"


def health(server: DaphneServer, cookie: str) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(f"{server.url}/healthz", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)
