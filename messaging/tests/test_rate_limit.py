"""Per-user rate limits (messaging.ratelimit): the sliding window itself, its fallback when the
cache is down, and the two interfaces that apply it: a socket flooder gets error frames and is
then closed with 4429 while another member of the room carries on normally, and the HTTP send
endpoints answer 429 from the same per-user bucket.

The clock is pinned to the middle of a window so counts are exact."""

from __future__ import annotations

import json
import time

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.urls import reverse

from messaging import ratelimit
from messaging.consumers.base import RATE_LIMITED
from messaging.models import ChatMessage, TaskThreadComment
from messaging.ratelimit import Rate, hit
from messaging.routing import websocket_urlpatterns

TIMEOUT = 5
NOW = 1_000_005.0  # the middle of a 10 s window
DEAD_REDIS_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.fixture(autouse=True)
def limits(settings, monkeypatch):
    settings.CHAT_RATE_LIMIT = "20/10s"
    settings.TYPING_RATE_LIMIT = "30/10s"
    monkeypatch.setattr(ratelimit, "clock", lambda: NOW)


# --- the limiter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("20/10s", Rate(20, 10)),
        ("5/s", Rate(5, 1)),
        ("5/1", Rate(5, 1)),
        ("100/m", Rate(100, 60)),
        ("1000/h", Rate(1000, 3600)),
        (" 3 / 2.5s ", Rate(3, 2.5)),
    ],
)
def test_rate_parses(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "20", "20/", "0/10s", "x/10s", "20/10d", "-1/s", "20/0s"])
def test_bad_rate_is_refused(text):
    with pytest.raises(ValueError):
        Rate.parse(text)


def hits(n: int, *, bucket=ratelimit.CHAT, user_id=1, now=NOW) -> list[ratelimit.Decision]:
    return [hit(bucket=bucket, user_id=user_id, now=now) for _ in range(n)]


def test_the_rate_is_allowed_then_refused_then_abusive():
    decisions = hits(41)
    assert [d.allowed for d in decisions] == [True] * 20 + [False] * 21
    assert not decisions[39].abusive  # twice the limit: still only refused
    assert decisions[40].abusive
    assert decisions[20].retry_after == 10
    assert "20 per 10 s" in decisions[20].message


def test_the_window_slides():
    start = 1_000_000.0
    assert all(d.allowed for d in hits(20, now=start + 9.9))
    # Half way into the next window half the previous window still counts: 10 more.
    later = start + 15.0
    assert [d.allowed for d in hits(11, now=later)] == [True] * 10 + [False]
    # Two windows on, nothing of it is left.
    assert all(d.allowed for d in hits(20, now=start + 30.0))


def test_users_and_buckets_are_counted_apart():
    hits(25, user_id=1)
    assert hits(1, user_id=2)[0].allowed
    assert hits(1, user_id=1, bucket=ratelimit.COMMENT)[0].allowed
    assert hits(1, user_id=1, bucket=ratelimit.TYPING)[0].allowed
    assert not hits(1, user_id=1)[0].allowed


def test_typing_has_its_own_rate():
    assert [d.allowed for d in hits(31, bucket=ratelimit.TYPING)] == [True] * 30 + [False]


def test_a_cache_outage_falls_back_to_counting_in_the_process(settings):
    settings.CACHES = DEAD_REDIS_CACHE
    started = time.monotonic()
    decisions = hits(21, user_id=99)
    assert [d.allowed for d in decisions] == [True] * 20 + [False]
    assert time.monotonic() - started < 5  # refused connections fail at once


# --- the socket -------------------------------------------------------------------------


@pytest_asyncio.fixture
async def _close_worker_thread_connections():
    yield
    await sync_to_async(connections.close_all)()


async def connected(user, path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    ok, code = await communicator.connect(timeout=TIMEOUT)
    assert ok, f"{user} was refused ({code})"
    return communicator


async def drain(
    communicator: WebsocketCommunicator, quiet: float = 1.0
) -> tuple[list[dict], int | None]:
    """Every frame until the socket closes (its close code) or goes quiet for `quiet` seconds
    (None). A test that expects the close passes a long `quiet`: on a loaded machine the
    first answer to a burst of frames can take longer than a second."""
    frames: list[dict] = []
    while True:
        if await communicator.receive_nothing(timeout=quiet):
            return frames, None
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        frames.append(json.loads(output["text"]))


def chat(text: str, client_id: str) -> str:
    return json.dumps({"type": "chat_message", "message": text, "client_id": client_id})


def of_type(frames: list[dict], kind: str) -> list[dict]:
    return [f for f in frames if f["type"] == kind]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_flooder_is_refused_then_closed_while_others_carry_on(
    room, alice, bob, _close_worker_thread_connections
):
    flooder = await connected(alice, f"/ws/chat-room/{room.pk}/")
    other = await connected(bob, f"/ws/chat-room/{room.pk}/")

    for i in range(200):
        await flooder.send_to(text_data=chat(f"flood {i}", f"a{i}"))
        if i == 100:  # bob talks in the middle of the flood
            started = time.monotonic()
            for j in range(5):
                await other.send_to(text_data=chat(f"normal {j}", f"b{j}"))

    flood_frames, code = await drain(flooder)
    other_frames, other_code = await drain(other)
    bob_seconds = time.monotonic() - started

    assert code == RATE_LIMITED
    assert [a["client_id"] for a in of_type(flood_frames, "ack")] == [f"a{i}" for i in range(20)]
    refused = of_type(flood_frames, "error")
    assert {e["code"] for e in refused} == {"rate_limited"}
    # Told 21 times (attempts 21..41), closed at the 41st: more than twice the limit.
    assert [e["client_id"] for e in refused] == [f"a{i}" for i in range(20, 41)]
    assert await sync_to_async(ChatMessage.objects.filter(author=alice).count)() == 20

    assert other_code is None  # bob is still connected
    assert [a["client_id"] for a in of_type(other_frames, "ack")] == [f"b{j}" for j in range(5)]
    assert not of_type(other_frames, "error")
    heard = [m["message"] for m in of_type(other_frames, "chat_message")]
    assert heard.count("flood 0") == 1 and "flood 20" not in heard
    assert [m for m in heard if m.startswith("normal")] == [f"normal {j}" for j in range(5)]
    assert await sync_to_async(ChatMessage.objects.filter(author=bob).count)() == 5
    assert bob_seconds < TIMEOUT
    await other.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_typing_flooder_is_closed(room, alice, _close_worker_thread_connections):
    flooder = await connected(alice, f"/ws/chat-room/{room.pk}/")
    for _ in range(100):
        await flooder.send_to(text_data=json.dumps({"type": "typing"}))

    frames, code = await drain(flooder, quiet=TIMEOUT * 6)

    assert code == RATE_LIMITED
    assert len(of_type(frames, "error")) == 31  # attempts 31..61
    assert {f["code"] for f in of_type(frames, "error")} == {"rate_limited"}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_comments_are_limited_per_user_too(task, alice, _close_worker_thread_connections):
    flooder = await connected(alice, f"/ws/task-comments/{task.pk}/")
    for i in range(60):
        await flooder.send_to(
            text_data=json.dumps({"type": "comment", "comment": f"c{i}", "client_id": f"c{i}"})
        )

    frames, code = await drain(flooder)

    assert code == RATE_LIMITED
    assert len(of_type(frames, "ack")) == 20
    assert await sync_to_async(TaskThreadComment.objects.count)() == 20


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_sockets_work_with_the_cache_down(
    room, alice, bob, settings, _close_worker_thread_connections
):
    """Typing throttle and rate limit both use the cache: neither may break a socket."""
    settings.CACHES = DEAD_REDIS_CACHE
    a = await connected(alice, f"/ws/chat-room/{room.pk}/")
    b = await connected(bob, f"/ws/chat-room/{room.pk}/")
    await a.send_to(text_data=json.dumps({"type": "typing"}))
    await a.send_to(text_data=chat("cache is down", "x1"))

    a_frames, a_code = await drain(a)
    b_frames, _ = await drain(b)

    assert a_code is None
    assert not of_type(a_frames, "error")
    assert of_type(a_frames, "ack")[0]["client_id"] == "x1"
    assert [f["type"] for f in b_frames if f["type"] != "user_join"] == [
        "user_typing",
        "chat_message",
    ]
    await a.disconnect()
    await b.disconnect()


# --- HTTP -------------------------------------------------------------------------------


def post_json(client, url: str, content: str, client_id: str = ""):
    return client.post(
        url,
        {"content": content, "client_id": client_id},
        HTTP_ACCEPT="application/json",
    )


@pytest.mark.django_db
def test_http_send_answers_429_past_the_limit(room, alice, bob, client_for):
    url = reverse("messaging:room_send", args=[room.pk])
    as_alice, as_bob = client_for(alice), client_for(bob)
    statuses = [post_json(as_alice, url, f"m{i}").status_code for i in range(20)]
    assert statuses == [201] * 20

    refused = post_json(as_alice, url, "one too many")

    assert refused.status_code == 429
    assert "too fast" in refused.json()["error"]
    assert refused["Retry-After"] == "10"
    assert ChatMessage.objects.filter(author=alice).count() == 20
    assert post_json(as_bob, url, "bob is fine").status_code == 201


@pytest.mark.django_db
def test_a_plain_form_post_past_the_limit_shows_the_error(room, alice, client_for):
    url = reverse("messaging:room_send", args=[room.pk])
    as_alice = client_for(alice)
    for i in range(20):
        as_alice.post(url, {"content": f"m{i}"})

    refused = as_alice.post(url, {"content": "one too many"})

    assert refused.status_code == 429
    assert b"too fast" in refused.content
    assert ChatMessage.objects.count() == 20


@pytest.mark.django_db
def test_http_comments_answer_429_past_the_limit(task, alice, client_for):
    url = reverse("messaging:task_comments", args=[task.pk])
    as_alice = client_for(alice)
    assert [post_json(as_alice, url, f"c{i}").status_code for i in range(20)] == [201] * 20
    assert post_json(as_alice, url, "one too many").status_code == 429
    assert TaskThreadComment.objects.count() == 20


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_http_and_socket_share_one_bucket(
    room, alice, client_for, _close_worker_thread_connections
):
    url = reverse("messaging:room_send", args=[room.pk])
    as_alice = await sync_to_async(client_for)(alice)
    for i in range(20):
        response = await sync_to_async(post_json)(as_alice, url, f"http {i}")
        assert response.status_code == 201
    socket = await connected(alice, f"/ws/chat-room/{room.pk}/")

    await socket.send_to(text_data=chat("over the socket", "s1"))
    frames, _ = await drain(socket)

    assert [(f["code"], f["client_id"]) for f in of_type(frames, "error")] == [
        ("rate_limited", "s1")
    ]
    assert await sync_to_async(ChatMessage.objects.count)() == 20
    await socket.disconnect()
