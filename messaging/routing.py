"""WebSocket routes (binding endpoint paths from the seed)."""

from django.urls import path

websocket_urlpatterns: list = [
]
