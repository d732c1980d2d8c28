"""Log-in throttling through a real daphne (the ASGI path: axes' async middleware branch).

The outside test sent 30 wrong passwords for the superuser at /admin/login/, then the right
one, and was logged in. Here the 10th failure already answers the log-in page with HTTP 429
and a wait message; the right password then still does not log in from that address.
"""

from __future__ import annotations

import re

import pytest

from tests.clients import LiveSession
from tests.factories import PASSWORD, UserFactory

LIMIT = 10


def post_login(session: LiveSession, path: str, username: str, password: str) -> tuple[int, str]:
    status, _, html = session.request(path)
    assert status == 200
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1).decode()
    status, _, body = session.request(
        path, {"username": username, "password": password, "csrfmiddlewaretoken": token}
    )
    return status, body.decode()


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_brute_force_is_stopped_over_daphne(live_daphne, transactional_db, path):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    session = LiveSession(live_daphne)

    statuses = [post_login(session, path, "root", "guess")[0] for _ in range(LIMIT)]
    status, page = post_login(session, path, "root", PASSWORD)

    assert statuses == [200] * (LIMIT - 1) + [429]
    assert status == 429
    assert "Too many failed log-ins" in page and "Wait 15 minutes" in page
    assert 'name="password"' in page
    assert not session.cookie("sessionid")
