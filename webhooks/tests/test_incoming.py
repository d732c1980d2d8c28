"""Incoming webhooks: a room member makes a secret URL; whatever POSTs {"text"} to it posts in
the room as the webhook's bot, through the room's one write path."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from messaging.models import ChatMessage, Notification
from messaging.tests.sockets import (
    close_worker_thread_connections,  # noqa: F401 (fixture)
    connected,
    frame,
    room_path,
)
from webhooks import services
from webhooks.models import IncomingWebhook

URL = re.compile(r'value="(http://testserver/hooks/in/[^"/]+/)"')


def create_via_page(client, room, name="Deploy bot") -> str:
    """Create a webhook through the room's webhook page; the secret URL it shows once."""
    response = client.post(reverse("webhooks:room_webhooks", args=[room.pk]), {"name": name})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    [url] = URL.findall(page)
    return url


def post_json(client, url: str, data, **extra):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


@pytest.fixture
def hook_url(client_for, bob, room):
    return create_via_page(client_for(bob), room)


def test_a_room_member_creates_a_webhook_that_posts_as_its_bot(client_for, bob, room, client):
    url = create_via_page(client_for(bob), room, name="CI")

    response = post_json(client, url, {"text": "Build **green**"})  # no session, no CSRF

    assert response.status_code == 201
    message = ChatMessage.objects.get(pk=response.json()["message_id"])
    assert (message.chat_room_id, message.content) == (room.pk, "Build **green**")
    assert message.author.is_bot and message.author.get_display_name() == "CI"
    assert not message.author.has_usable_password()
    hook = IncomingWebhook.objects.get()
    assert hook.created_by == bob and url.rstrip("/").split("/")[-1] not in hook.token_hash


def test_the_secret_url_is_shown_once(client_for, bob, room):
    client = client_for(bob)
    create_via_page(client, room)
    page = client.get(reverse("webhooks:room_webhooks", args=[room.pk])).content.decode()
    assert not URL.findall(page)
    assert "Deploy bot" in page


def test_room_page_shows_the_bot_badge_on_its_posts(hook_url, client, client_for, alice, room):
    post_json(client, hook_url, {"text": "from the bot"})
    page = client_for(alice).get(room.get_absolute_url()).content.decode()
    [bot_msg] = re.findall(
        r'<div class="chat-msg[^"]*"[^>]*data-text="from the bot">.*?</div>', page
    )
    assert '<span class="badge text-bg-secondary bot-badge">bot</span>' in bot_msg


@pytest.mark.parametrize("who", ["dave", "carol"])  # outside the org's board / not in the room
def test_someone_who_cannot_read_the_room_gets_404(request, who, client_for, room):
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("webhooks:room_webhooks", args=[room.pk])).status_code == 404
    response = client.post(reverse("webhooks:room_webhooks", args=[room.pk]), {"name": "x"})
    assert response.status_code == 404
    assert not IncomingWebhook.objects.exists()


def test_stranger_cannot_rotate_or_delete_a_webhook(client_for, bob, dave, room):
    hook, _token = services.create_incoming_webhook(room=room, name="CI", created_by=bob)
    client = client_for(dave)
    for name in ("webhooks:room_webhook_rotate", "webhooks:room_webhook_delete"):
        assert client.post(reverse(name, args=[room.pk, hook.pk])).status_code == 404
    hook.refresh_from_db()
    assert hook.revoked_at is None and hook.rotated_at is None


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_post_reaches_open_sockets_and_notifies_mentions(
    alice,
    bob,
    room,
    close_worker_thread_connections,  # noqa: F811
):
    hook, token = await sync_to_async(services.create_incoming_webhook)(
        room=room, name="Deploy bot", created_by=bob
    )
    socket = await connected(alice, room_path(room))
    client = await sync_to_async(_anonymous_client)()

    response = await sync_to_async(post_json)(
        client, reverse("webhooks:incoming", args=[token]), {"text": "Deployed, @alice"}
    )

    assert response.status_code == 201
    got = await frame(socket)
    while got["type"] != "chat_message":
        got = await frame(socket)
    assert (got["message"], got["username"], got["is_bot"]) == (
        "Deployed, @alice",
        hook.bot.username,
        True,
    )
    assert got["display_name"] == "Deploy bot" and got["mentioned_users"] == ["alice"]
    notified = await sync_to_async(
        Notification.objects.filter(recipient=alice, notification_type="mention").count
    )()
    assert notified == 1
    await socket.disconnect()


def _anonymous_client():
    from django.test import Client

    return Client()


def test_rotating_the_secret_kills_the_old_url(client_for, bob, room, client):
    page_client = client_for(bob)
    old = create_via_page(page_client, room)
    hook = IncomingWebhook.objects.get()

    response = page_client.post(reverse("webhooks:room_webhook_rotate", args=[room.pk, hook.pk]))
    new = URL.findall(page_client.get(response["Location"]).content.decode())[0]

    assert new != old
    assert post_json(client, old, {"text": "old"}).status_code == 404
    assert post_json(client, new, {"text": "new"}).status_code == 201
    assert list(ChatMessage.objects.values_list("content", flat=True)) == ["new"]


def test_deleting_kills_the_url_and_keeps_the_messages(client_for, bob, room, hook_url, client):
    assert post_json(client, hook_url, {"text": "before"}).status_code == 201
    hook = IncomingWebhook.objects.get()
    response = client_for(bob).post(
        reverse("webhooks:room_webhook_delete", args=[room.pk, hook.pk])
    )
    assert response.status_code == 302

    answer = post_json(client, hook_url, {"text": "after"})
    assert answer.status_code == 404 and "error" in answer.json()
    assert list(ChatMessage.objects.values_list("content", flat=True)) == ["before"]
    # The bot can no longer post by any path: the room rule refuses it.
    from messaging.access import can_read_room

    hook.bot.refresh_from_db()
    assert not can_read_room(hook.bot, room.pk)


def test_unknown_token_is_404_json(db, client):
    response = post_json(client, reverse("webhooks:incoming", args=["nope"]), {"text": "x"})
    assert response.status_code == 404
    assert "error" in response.json()


def test_posting_past_the_rate_limit_is_429_with_retry_after(hook_url, client, settings):
    settings.WEBHOOK_RATE_LIMIT = "2/m"
    assert post_json(client, hook_url, {"text": "1"}).status_code == 201
    assert post_json(client, hook_url, {"text": "2"}).status_code == 201
    response = post_json(client, hook_url, {"text": "3"})
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert "too fast" in response.json()["error"]
    assert ChatMessage.objects.count() == 2


@pytest.mark.parametrize(
    "body, says",
    [
        (b"not json", "must be JSON"),
        (b"\xff\xfe", "must be JSON"),
        ([1, 2], '"text" string'),
        ({"message": "hi"}, '"text" string'),
        ({"text": 5}, '"text" string'),
        ({"text": "   "}, "empty"),
        ({"text": "x" * 5001}, "limited to"),
    ],
)
def test_bad_input_is_400_with_a_readable_error(hook_url, client, settings, body, says):
    settings.MESSAGE_MAX_LENGTH = 5000
    response = post_json(client, hook_url, body)
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert ChatMessage.objects.count() == 0


def test_get_is_not_allowed(hook_url, client):
    assert client.get(hook_url).status_code == 405


def test_a_bot_removed_from_the_room_is_refused_with_403(hook_url, client, room):
    hook = IncomingWebhook.objects.get()
    room.members.remove(hook.bot)
    response = post_json(client, hook_url, {"text": "hello?"})
    assert response.status_code == 403
    assert "no longer a member" in response.json()["error"]


def test_direct_rooms_have_no_webhooks(client_for, alice, bob, board):
    from messaging.services.direct import get_or_create_direct_room

    direct, _ = get_or_create_direct_room(sender=alice, usernames=["bob"])
    response = client_for(alice).get(reverse("webhooks:room_webhooks", args=[direct.pk]))
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_replies_and_mentions_to_the_bot_notify_nobody(bob, room):
    from messaging.services.posting import post_chat_message

    hook, _token = services.create_incoming_webhook(room=room, name="CI", created_by=bob)
    root = services.post_incoming_message(webhook=hook, text="build failed")
    post_chat_message(
        room=room, author=bob, content=f"@{hook.bot.username} why?", parent_id=root.pk
    )
    assert not Notification.objects.filter(recipient=hook.bot).exists()


def test_an_oversized_body_is_413_json(hook_url, client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(client, hook_url, {"text": "x" * 2000})
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_a_hostile_webhook_name_is_text_everywhere(client_for, bob, alice, room, client):
    name = '<img src=x onerror="alert(1)">'
    client_bob = client_for(bob)
    url = create_via_page(client_bob, room, name=name)
    post_json(client, url, {"text": "hi"})
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    for page in (
        client_bob.get(reverse("webhooks:room_webhooks", args=[room.pk])),
        client_for(alice).get(room.get_absolute_url()),
    ):
        html = page.content.decode()
        assert escaped in html and name not in html
