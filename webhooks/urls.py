from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("in/<str:secret>/", views.incoming, name="incoming"),
    path("room/<int:room_id>/", views.room_webhooks, name="room_webhooks"),
    path(
        "room/<int:room_id>/<int:incoming_id>/rotate/",
        views.room_webhook_rotate,
        name="room_webhook_rotate",
    ),
    path(
        "room/<int:room_id>/<int:incoming_id>/delete/",
        views.room_webhook_delete,
        name="room_webhook_delete",
    ),
    path("board/<int:board_id>/", views.board_webhooks, name="board_webhooks"),
    path(
        "board/<int:board_id>/<int:outgoing_id>/delete/",
        views.board_webhook_delete,
        name="board_webhook_delete",
    ),
    path(
        "board/<int:board_id>/<int:outgoing_id>/ping/",
        views.board_webhook_ping,
        name="board_webhook_ping",
    ),
    path(
        "board/<int:board_id>/<int:outgoing_id>/rotate/",
        views.board_webhook_rotate,
        name="board_webhook_rotate",
    ),
]
