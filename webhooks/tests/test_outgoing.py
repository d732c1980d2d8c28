"""Outgoing webhooks against a real HTTP receiver on 127.0.0.1: who may subscribe, what is
sent and signed, retries with backoff, and the SSRF guard."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import re
import time

import pytest
from django.urls import reverse

from kanban import services as kanban
from messaging.services.posting import post_chat_message, post_task_comment
from webhooks import services, signing
from webhooks.models import OutgoingWebhook, WebhookDelivery
from webhooks.tasks import deliver_due

pytestmark = pytest.mark.django_db(transaction=True)  # deliveries run after commit

ALL_EVENTS = ["task.created", "task.moved", "task.assigned", "message.posted", "comment.added"]


def subscribe(board, alice, url, events=("task.created",)) -> OutgoingWebhook:
    return services.create_outgoing_webhook(
        board=board, url=url, events=list(events), created_by=alice
    )


def hand_verify(secret: str, header: str, body: bytes) -> bool:
    """The receiver's check, written out from the README (not webhooks.signing)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


# --- who may subscribe -------------------------------------------------------------------


def test_only_board_admins_manage_webhooks(client_for, alice, bob, dave, board, allow_private):
    url = reverse("webhooks:board_webhooks", args=[board.pk])
    assert client_for(dave).get(url).status_code == 404  # cannot read the board
    assert client_for(bob).get(url).status_code == 403  # a member, not an admin
    response = client_for(bob).post(
        url, {"url": "https://example.com/", "events": ["task.created"]}
    )
    assert response.status_code == 403
    assert not OutgoingWebhook.objects.exists()
    assert client_for(alice).get(url).status_code == 200


def test_admin_adds_a_webhook_from_the_board_page(
    client_for, alice, board, receiver, allow_private
):
    response = client_for(alice).post(
        reverse("webhooks:board_webhooks", args=[board.pk]),
        {"url": receiver.url, "events": ["task.created", "comment.added"]},
    )
    assert response.status_code == 302
    hook = OutgoingWebhook.objects.get()
    assert (hook.url, hook.events) == (receiver.url, ["task.created", "comment.added"])
    assert hook.secret.startswith("whsec_")


def test_unknown_or_no_events_are_refused(client_for, alice, board, allow_private):
    url = reverse("webhooks:board_webhooks", args=[board.pk])
    for events in ([], ["task.deleted"]):
        response = client_for(alice).post(url, {"url": "http://127.0.0.1:9/", "events": events})
        assert response.status_code == 400
    assert not OutgoingWebhook.objects.exists()


# --- SSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://100.64.0.1/",  # shared address space
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://2130706433/",  # 127.0.0.1 as one number
    ],
)
def test_private_addresses_are_refused(client_for, alice, board, url, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = client_for(alice).post(
        reverse("webhooks:board_webhooks", args=[board.pk]),
        {"url": url, "events": ["task.created"]},
    )
    assert response.status_code == 400
    assert "webhooks only call public addresses" in response.content.decode()
    assert not OutgoingWebhook.objects.exists()


@pytest.mark.parametrize(
    "url, says",
    [
        ("ftp://example.com/x", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("gopher://127.0.0.1:6379/", "Only http:// and https://"),
        ("http://user:pw@example.com/", "no user name or password"),
        ("http:///nohost", "no host"),
    ],
)
def test_other_schemes_and_credentials_are_refused(client_for, alice, board, url, says):
    response = client_for(alice).post(
        reverse("webhooks:board_webhooks", args=[board.pk]),
        {"url": url, "events": ["task.created"]},
    )
    assert response.status_code == 400
    assert says in response.content.decode()


def test_a_private_address_is_refused_again_at_delivery(alice, board, column, receiver, settings):
    """Subscribed while allowed (or the name resolved elsewhere then): nothing reaches the
    private address once the guard is on."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    subscribe(board, alice, receiver.url)
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False

    kanban.create_task(column=column, title="Ship", created_by=alice)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status_code is None and "public addresses" in delivery.error
    assert delivery.attempts == 1 and delivery.status == WebhookDelivery.Status.PENDING
    assert receiver.received == []


# --- what is sent ------------------------------------------------------------------------


def test_a_delivery_is_signed_and_verifies_at_the_receiver(
    alice, board, column, receiver, allow_private
):
    hook = subscribe(board, alice, receiver.url)

    task = kanban.create_task(column=column, title="Ship it", created_by=alice)

    [got] = receiver.wait_for(1)
    delivery = WebhookDelivery.objects.get()
    assert got.path == "/hook?src=taskflow"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-TaskFlow-Event"] == "task.created"
    assert got.headers["X-TaskFlow-Delivery"] == str(delivery.delivery_id)
    header = got.headers["X-TaskFlow-Signature"]
    assert hand_verify(hook.secret, header, got.body)
    assert not hand_verify("whsec_wrong", header, got.body)
    assert not hand_verify(hook.secret, header, got.body + b" ")
    timestamp = int(re.match(r"t=(\d+),v1=[0-9a-f]{64}$", header)[1])
    assert abs(timestamp - time.time()) < 60
    assert signing.verify(secret=hook.secret, header=header, body=got.body)
    assert not signing.verify(
        secret=hook.secret, header=header, body=got.body, now=timestamp + 301
    )  # outside the replay window
    body = got.json
    assert body["id"] == str(delivery.delivery_id) and body["event"] == "task.created"
    assert body["data"]["task"]["id"] == task.pk
    assert body["data"]["task"]["title"] == "Ship it"
    assert body["data"]["task"]["column"] == {"id": column.pk, "name": "To Do"}
    assert body["data"]["board"] == {"id": board.pk, "name": "Launch"}
    assert body["data"]["actor"]["username"] == "alice"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("delivered", 200, 1)


def test_every_event_reaches_its_subscribers(
    alice, bob, board, column, room, receiver, allow_private
):
    subscribe(board, alice, receiver.url, events=ALL_EVENTS)
    done = kanban.create_task(column=column, title="Second", created_by=alice)
    task = kanban.create_task(column=column, title="Ship", created_by=alice, assignee=bob)
    other = column.board.columns.create(name="Doing", position=1)
    kanban.move_task(task=task, to_column=other, position=0, moved_by=bob)
    kanban.update_task(
        task=done,
        title="Second",
        description="",
        assignee=alice,
        priority=done.priority,
        due_date=None,
        updated_by=bob,
    )
    post_chat_message(room=room, author=bob, content="hello @alice")
    post_task_comment(task=task, author=alice, content="nice")

    got = receiver.wait_for(7)
    assert [r.headers["X-TaskFlow-Event"] for r in got] == [
        "task.created",
        "task.created",
        "task.assigned",
        "task.moved",
        "task.assigned",
        "message.posted",
        "comment.added",
    ]
    moved = got[3].json["data"]
    assert moved["from_column"] == {"id": column.pk, "name": "To Do"}
    assert moved["task"]["column"]["name"] == "Doing"
    assert got[4].json["data"]["task"]["assignee"]["username"] == "alice"
    message = got[5].json["data"]
    assert message["room"] == {"id": room.pk, "name": "general"}
    assert (message["message"]["text"], message["message"]["author"]["username"]) == (
        "hello @alice",
        "bob",
    )
    assert got[6].json["data"]["comment"]["text"] == "nice"


def test_unsubscribed_events_and_other_boards_send_nothing(
    alice, bob, board, column, room, receiver, allow_private
):
    subscribe(board, alice, receiver.url, events=["comment.added"])
    kanban.create_task(column=column, title="Ship", created_by=alice)
    post_chat_message(room=room, author=bob, content="hi")
    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


def test_a_webhook_added_later_gets_the_next_message(
    alice, bob, board, room, receiver, allow_private
):
    """The per-board "any webhooks?" answer is cached for the chat hot path; adding a webhook
    drops it."""
    post_chat_message(room=room, author=bob, content="before")  # caches "none"
    subscribe(board, alice, receiver.url, events=["message.posted"])
    post_chat_message(room=room, author=bob, content="after")
    [got] = receiver.wait_for(1)
    assert got.json["data"]["message"]["text"] == "after"


def test_a_deleted_webhook_gets_nothing_more(
    client_for, alice, bob, board, room, receiver, allow_private
):
    hook = subscribe(board, alice, receiver.url, events=["message.posted"])
    post_chat_message(room=room, author=bob, content="one")
    receiver.wait_for(1)
    response = client_for(alice).post(
        reverse("webhooks:board_webhook_delete", args=[board.pk, hook.pk])
    )
    assert response.status_code == 302
    post_chat_message(room=room, author=bob, content="two")
    assert len(receiver.received) == 1


# --- retries -----------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_then_succeeds(
    alice, board, column, receiver, settings, allow_private
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 600  # no timer fires during the test
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    receiver.statuses = [500, 503, 200]
    subscribe(board, alice, receiver.url)

    kanban.create_task(column=column, title="Ship", created_by=alice)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.status_code, delivery.status) == (1, 500, "pending")
    assert delivery.next_attempt_at - delivery.last_attempt_at == datetime.timedelta(seconds=600)

    # Not due yet: nothing is sent.
    assert deliver_due(now=delivery.next_attempt_at - datetime.timedelta(seconds=1)) == 0
    assert len(receiver.received) == 1

    assert deliver_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.status_code) == (2, 503)
    # The wait doubles.
    assert delivery.next_attempt_at - delivery.last_attempt_at == datetime.timedelta(seconds=1200)

    assert deliver_due(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.status_code, delivery.status) == (3, 200, "delivered")
    assert delivery.next_attempt_at is None and delivery.delivered_at is not None
    assert delivery.status_codes() == ["500", "503", "200"]

    got = receiver.wait_for(3)
    # At least once, one identity: every attempt carries the same delivery id and body.
    assert {r.headers["X-TaskFlow-Delivery"] for r in got} == {str(delivery.delivery_id)}
    assert {r.json["id"] for r in got} == {str(delivery.delivery_id)}
    assert got[0].body == got[2].body
    assert [r.headers["X-TaskFlow-Attempt"] for r in got] == ["1", "2", "3"]


def test_retries_run_by_themselves_in_the_embedded_mode(
    alice, board, column, receiver, settings, allow_private
):
    """No worker, no beat: the process's own timer makes the retry when it is due."""
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.3
    receiver.statuses = [502, 200]
    subscribe(board, alice, receiver.url)

    kanban.create_task(column=column, title="Ship", created_by=alice)

    got = receiver.wait_for(2, timeout=15)
    assert [r.headers["X-TaskFlow-Attempt"] for r in got] == ["1", "2"]
    deadline = time.monotonic() + 15
    delivery = WebhookDelivery.objects.get()
    while delivery.status != "delivered" and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for a condition: the timer thread records the answer
        delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.status_code) == ("delivered", 2, 200)


def test_a_delivery_gives_up_after_the_last_attempt(
    alice, board, column, receiver, settings, allow_private
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 600
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.statuses = [500]
    subscribe(board, alice, receiver.url)
    kanban.create_task(column=column, title="Ship", created_by=alice)
    delivery = WebhookDelivery.objects.get()

    deliver_due(now=delivery.next_attempt_at)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    far_future = delivery.last_attempt_at + datetime.timedelta(days=1)
    assert deliver_due(now=far_future) == 0
    assert len(receiver.received) == 2


def test_a_connection_error_is_retried_like_a_bad_status(
    alice, board, column, settings, allow_private
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 600
    subscribe(board, alice, "http://127.0.0.1:9/nothing-listens")
    kanban.create_task(column=column, title="Ship", created_by=alice)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.status_code is None
    assert "Connection" in delivery.error or "refused" in delivery.error.lower()
    assert delivery.status_codes() == ["error"]


# --- the delivery log and test ping ------------------------------------------------------


def test_ping_and_the_delivery_log(client_for, alice, board, receiver, settings, allow_private):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 600
    receiver.statuses = [500, 200]
    hook = subscribe(board, alice, receiver.url)
    client = client_for(alice)

    response = client.post(reverse("webhooks:board_webhook_ping", args=[board.pk, hook.pk]))
    assert response.status_code == 302
    [got] = receiver.wait_for(1)
    assert got.headers["X-TaskFlow-Event"] == "ping"
    assert hand_verify(hook.secret, got.headers["X-TaskFlow-Signature"], got.body)
    delivery = WebhookDelivery.objects.get()
    deliver_due(now=delivery.next_attempt_at)

    page = client.get(reverse("webhooks:board_webhooks", args=[board.pk])).content.decode()
    [row] = re.findall(
        rf'<tr data-delivery-id="{delivery.delivery_id}".*?</tr>', page, flags=re.DOTALL
    )
    assert "500 → 200" in row and "Delivered" in row
    assert hook.secret in page


def test_rotating_the_signing_secret(client_for, alice, board, receiver, allow_private):
    hook = subscribe(board, alice, receiver.url)
    old = hook.secret
    client_for(alice).post(reverse("webhooks:board_webhook_rotate", args=[board.pk, hook.pk]))
    hook.refresh_from_db()
    assert hook.secret != old
    client_for(alice).post(reverse("webhooks:board_webhook_ping", args=[board.pk, hook.pk]))
    [got] = receiver.wait_for(1)
    assert hand_verify(hook.secret, got.headers["X-TaskFlow-Signature"], got.body)
    assert not hand_verify(old, got.headers["X-TaskFlow-Signature"], got.body)


def test_the_body_is_json_with_the_documented_keys(alice, board, receiver, allow_private):
    hook = subscribe(board, alice, receiver.url)
    services.send_test_ping(webhook=hook, sent_by=alice)
    [got] = receiver.wait_for(1)
    assert sorted(json.loads(got.body)) == ["created_at", "data", "event", "id"]


def test_the_beat_sweep_queues_due_deliveries_once_each_attempt(
    alice, board, column, receiver, settings, allow_private
):
    """The beat task hands due deliveries to deliver_webhook (eager here); one not yet due
    stays put."""
    from django.utils import timezone

    from webhooks.tasks import retry_due_deliveries

    settings.WEBHOOK_RETRY_BASE_SECONDS = 600
    receiver.statuses = [500, 200]
    subscribe(board, alice, receiver.url)
    kanban.create_task(column=column, title="Ship", created_by=alice)
    assert retry_due_deliveries() == 0  # next attempt in 10 minutes

    WebhookDelivery.objects.update(next_attempt_at=timezone.now())  # the wait is over
    assert retry_due_deliveries() == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert len(receiver.wait_for(2)) == 2


def test_a_message_posted_while_the_cache_is_unreachable_still_reaches_the_webhook(
    settings, alice, bob, board, room, receiver, allow_private, caplog
):
    """The "any webhooks?" answer is cached in Redis; during a Redis outage its read raised
    inside the post's on-commit hook ("Error calling emit_on_commit"), so the message never
    reached the board's webhooks. The database answers instead."""
    subscribe(board, alice, receiver.url, events=["message.posted"])
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there: connection refused
        }
    }
    post_chat_message(room=room, author=bob, content="during the outage")
    [got] = receiver.wait_for(1)
    assert got.json["data"]["message"]["text"] == "during the outage"
    assert "Error calling" not in caplog.text
