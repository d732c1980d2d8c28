"""WebSocket routes (binding endpoint paths from the seed)."""

from django.urls import path

from kanban.consumers import BoardConsumer

from .consumers.chat import ChatRoomConsumer
from .consumers.comments import TaskCommentConsumer
from .consumers.notifications import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/chat-room/<int:room_id>/", ChatRoomConsumer.as_asgi()),
    path("ws/task-comments/<int:task_id>/", TaskCommentConsumer.as_asgi()),
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    # The live board (issue 13): board and task pages of the board's members.
    path("ws/board/<int:board_id>/", BoardConsumer.as_asgi()),
]
