"""WebSocket routes (binding endpoint paths from the seed)."""

from django.urls import path

from .consumers.chat import ChatRoomConsumer
from .consumers.comments import TaskCommentConsumer
from .consumers.notifications import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/chat-room/<int:room_id>/", ChatRoomConsumer.as_asgi()),
    path("ws/task-comments/<int:task_id>/", TaskCommentConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
]
