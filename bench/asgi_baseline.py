"""Baseline ASGI app: the least a Channels chat room can do, on the same daphne and layer.

`ws/bare/<room>/` joins a group, group_sends every received text frame unchanged and forwards
group events unchanged: no auth, no origin check, no JSON parsing, no database. Whatever our
consumer costs beyond this is the price of its features.

BENCH_LAYER picks the channel layer: `redis` (the app's own CHANNEL_LAYERS entry: same
backend class, hosts, capacity and expiry), `pubsub` (RedisPubSubChannelLayer) or `memory`
(InMemoryChannelLayer, with the same capacity). Run: daphne bench.asgi_baseline:application
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban_board.settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402


def layer_config(kind: str) -> dict:
    redis_url = os.environ.get("REDIS_URL", "")
    app_layer = settings.CHANNEL_LAYERS["default"]
    capacity = app_layer.get("CONFIG", {}).get("capacity", 1500)
    if kind == "redis":  # exactly the app's layer: same class, hosts, capacity and expiry
        if not redis_url or "redis" not in app_layer["BACKEND"].lower():
            raise RuntimeError(
                f"BENCH_LAYER=redis needs REDIS_URL (the app's layer is {app_layer['BACKEND']})"
            )
        return app_layer
    if kind == "pubsub":
        if not redis_url:
            raise RuntimeError("BENCH_LAYER=pubsub needs REDIS_URL")
        # Pub/sub channels are global to a Redis server (not per DB): a unique prefix keeps
        # two runs (or another team's tests) from hearing each other.
        prefix = f"bench{os.getpid()}"
        return {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": prefix},
        }
    if kind == "memory":
        return {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": capacity}}
    raise RuntimeError(f"unknown BENCH_LAYER {kind!r}")


LAYER = os.environ.get("BENCH_LAYER", "redis")
settings.CHANNEL_LAYERS = {"default": layer_config(LAYER)}


class BareRoomConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = f"bare_{self.scope['url_route']['kwargs']['room']}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.channel_layer.group_send(self.group, {"type": "forward", "text": text_data})

    async def forward(self, event: dict) -> None:
        await self.send(text_data=event["text"])


CONSUMER = BareRoomConsumer


async def ok(scope: dict, receive, send) -> None:
    """Plain HTTP 200 for readiness checks."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": LAYER.encode()})


application = ProtocolTypeRouter(
    {
        "http": ok,
        "websocket": URLRouter([path("ws/bare/<str:room>/", CONSUMER.as_asgi())]),
    }
)
