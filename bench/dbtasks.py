"""ORM work against the bench database, run as `python -m bench.dbtasks <task>` with
DATABASE_URL pointing at it. Arguments arrive as JSON on stdin; the result is one JSON line
on stdout. Fixtures are written with bulk_create (this is set-up, not the code under test);
the history measurement goes through the real view with the Django test client.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from accounts.models import Membership, Organization, User  # noqa: E402
from kanban.models import Board  # noqa: E402
from messaging.models import ChatMessage, ChatRoom, Notification  # noqa: E402

BACKEND = "django.contrib.auth.backends.ModelBackend"
PASSWORD = "bench-password-not-secret"


def _sessions(users: list[User]) -> dict[int, str]:
    """A logged-in session per user, as `login()` would leave it (auth id, backend, hash)."""
    engine = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"])
    store_cls = engine.SessionStore
    keys: dict[int, str] = {}
    expire = timezone.now() + timedelta(days=1)
    db_backed = settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    rows = []
    for user in users:
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: BACKEND,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        if db_backed:  # one INSERT for all of them
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            rows.append(
                Session(session_key=key, session_data=store_cls().encode(data), expire_date=expire)
            )
        else:
            store = store_cls()
            store.update(data)
            store.create()
            key = store.session_key
        keys[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys


@transaction.atomic
def setup(args: dict) -> dict:
    """Users bench0000.., alice and bob; one board with all of them; room `ours` (the
    first `load_members` users), `idle-<k>` (the
    first `idle_members` users in rooms of `idle_room_size`, user i in room i //
    idle_room_size), `mention` (alice, bob) and `history` (alice). Returns ids and session
    keys."""
    n = max(args["load_members"], args["idle_members"])
    hashed = make_password(PASSWORD)  # once: PBKDF2 per user would dominate set-up
    users = User.objects.bulk_create(
        [User(username=f"bench{i:04d}", password=hashed) for i in range(n)]
        + [User(username="alice", password=hashed), User(username="bob", password=hashed)],
        batch_size=1000,
    )
    if connection.vendor == "sqlite" and users[0].pk is None:  # older SQLite: no RETURNING
        users = list(User.objects.order_by("pk"))
    bench_users, alice, bob = users[:n], users[n], users[n + 1]
    organization = Organization.objects.create(name="Bench", slug="bench")
    Membership.objects.bulk_create(
        [Membership(organization=organization, user=u) for u in users], batch_size=1000
    )
    board = Board.objects.create(name="Bench board", created_by=alice, organization=organization)
    Board.members.through.objects.bulk_create(
        [Board.members.through(board_id=board.pk, user_id=u.pk) for u in users], batch_size=1000
    )

    def room(name: str, members: list[User]) -> ChatRoom:
        r = ChatRoom.objects.create(board=board, name=name, created_by=alice)
        ChatRoom.members.through.objects.bulk_create(
            [ChatRoom.members.through(chatroom_id=r.pk, user_id=u.pk) for u in members],
            batch_size=1000,
        )
        return r

    rooms = {
        "ours": room("load", bench_users[: args["load_members"]]).pk,
        "mention": room("mention", [alice, bob]).pk,
        "history": room("history", [alice]).pk,
    }
    size = args["idle_room_size"]
    idle = bench_users[: args["idle_members"]]
    idle_rooms = [room(f"idle-{k}", idle[k : k + size]).pk for k in range(0, len(idle), size)]
    sessions = _sessions(users)
    return {
        "rooms": rooms,
        "idle_rooms": idle_rooms,
        "users": [[u.pk, u.username, sessions[u.pk]] for u in bench_users],
        "alice": [alice.pk, sessions[alice.pk]],
        "bob": [bob.pk, sessions[bob.pk]],
    }


def history(args: dict) -> dict:
    """Insert `rows` messages in the history room, then time the history endpoint: the latest
    page against a deep page (?before=<an id near the oldest>), each `repeat` times."""
    from django.test import Client

    try:
        url = reverse("messaging:room_history", args=[args["room"]])
    except NoReverseMatch as exc:
        return {"error": f"messaging:room_history is not routed ({exc})"}
    alice = User.objects.get(username="alice")
    room = ChatRoom.objects.get(pk=args["room"])
    started = time.perf_counter()
    batch = 5000
    for start in range(0, args["rows"], batch):
        ChatMessage.objects.bulk_create(
            [
                ChatMessage(chat_room=room, author=alice, content=f"history {i}")
                for i in range(start, min(start + batch, args["rows"]))
            ],
            batch_size=batch,
        )
    insert_s = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # autovacuum would do this on a live server
            cursor.execute("ANALYZE messaging_chatmessage")
    ids = list(
        ChatMessage.objects.filter(chat_room=room).order_by("pk").values_list("pk", flat=True)[:200]
    )
    deep_before = ids[150]
    total = ChatMessage.objects.filter(chat_room=room).count()

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(alice)

    def timed(query: dict) -> tuple[list[float], dict]:
        body: dict = {}
        for _ in range(args["warmup"]):
            client.get(url, query)
        samples = []
        for _ in range(args["repeat"]):
            t0 = time.perf_counter()
            response = client.get(url, query)
            samples.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url} {query} -> {response.status_code}")
            body = response.json()
        return samples, body

    first, first_body = timed({})
    deep, deep_body = timed({"before": deep_before})
    first_ids = [m["message_id"] for m in first_body.get("messages", [])]
    deep_ids = [m["message_id"] for m in deep_body.get("messages", [])]
    return {
        "url": url,
        "rows": total,
        "insert_s": insert_s,
        "before": deep_before,
        "first_ms": statistics.median(first),
        "deep_ms": statistics.median(deep),
        "first_p95_ms": sorted(first)[int(0.95 * (len(first) - 1))],
        "deep_p95_ms": sorted(deep)[int(0.95 * (len(deep) - 1))],
        "first_count": len(first_ids),
        "deep_count": len(deep_ids),
        "deep_is_older": bool(deep_ids and first_ids and max(deep_ids) < min(first_ids)),
        "deep_ends_before": bool(deep_ids and max(deep_ids) < deep_before),
        "repeat": args["repeat"],
    }


def notifications(args: dict) -> dict:
    """Notification id -> the content of the chat message it is about."""
    rows = Notification.objects.filter(pk__in=args["ids"]).values_list(
        "pk", "chat_message__content"
    )
    return {"contents": {str(pk): content for pk, content in rows}}


def messages_saved(args: dict) -> dict:
    return {"count": ChatMessage.objects.filter(chat_room_id=args["room"]).count()}


TASKS = {f.__name__: f for f in (setup, history, notifications, messages_saved)}

if __name__ == "__main__":
    task = TASKS[sys.argv[1]]
    result = task(json.loads(sys.stdin.read() or "{}"))
    sys.stdout.write(json.dumps(result) + "\n")
