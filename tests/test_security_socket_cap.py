"""The per-user socket cap holds across two real daphne processes sharing one Redis.

WS_MAX_SOCKETS_PER_USER=4: two of alice's sockets on each process use it up, the fifth is
refused on either process (403 at the handshake), bob is unaffected, and closing a socket on
one process frees a slot for the other. (The cap itself: messaging/tests/test_socketcap.py.)
"""

from __future__ import annotations

import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.clients import LiveSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.services
def test_the_cap_holds_across_two_daphne_processes(start_cluster, alice, bob):
    cluster = start_cluster(WS_MAX_SOCKETS_PER_USER="4")
    on_p1 = LiveSession(cluster.p1).log_in("alice")
    on_p2 = LiveSession(cluster.p2).log_in("alice")
    sockets = [on_p1.socket("/ws/notifications/") for _ in range(2)]
    sockets += [on_p2.socket("/ws/notifications/") for _ in range(2)]

    for session in (on_p1, on_p2):
        with pytest.raises(InvalidStatus) as refused:
            session.socket("/ws/notifications/")
        assert refused.value.response.status_code == 403
    bobs = LiveSession(cluster.p1).log_in("bob").socket("/ws/notifications/")

    sockets.pop().close()  # a slot on process 2 frees one for process 1
    deadline = time.monotonic() + 10
    while True:
        try:
            sockets.append(on_p1.socket("/ws/notifications/"))
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "the closed socket's slot was never released"
    for ws in [*sockets, bobs]:
        ws.close()
