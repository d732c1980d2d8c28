"""/api/v1/ (namespace `api:`). Object ids use the same URL kwarg names as the pages
(room_id, message_id, board_id, ...), so the route-walking security tests cover them."""

from django.urls import path

from .views import account, boards, chat, docs

app_name = "api"

urlpatterns = [
    path("schema/", docs.schema_view(), name="schema"),
    path("docs/", docs.docs_view(), name="docs"),
    # Chat (seed 003).
    path("chat/rooms/", chat.RoomListView.as_view(), name="rooms"),
    path("chat/rooms/<int:room_id>/", chat.RoomDetailView.as_view(), name="room"),
    path(
        "chat/rooms/<int:room_id>/messages/",
        chat.RoomMessagesView.as_view(),
        name="room_messages",
    ),
    path(
        "chat/rooms/<int:room_id>/participants/",
        chat.RoomParticipantsView.as_view(),
        name="room_participants",
    ),
    path("chat/messages/<int:message_id>/", chat.MessageDetailView.as_view(), name="message"),
    # Boards, columns, tasks, comments.
    path("boards/", boards.BoardListView.as_view(), name="boards"),
    path("boards/<int:board_id>/", boards.BoardDetailView.as_view(), name="board"),
    path("boards/<int:board_id>/columns/", boards.BoardColumnsView.as_view(), name="board_columns"),
    path("boards/<int:board_id>/tasks/", boards.BoardTasksView.as_view(), name="board_tasks"),
    path("columns/<int:column_id>/", boards.ColumnDetailView.as_view(), name="column"),
    path("tasks/<int:task_id>/", boards.TaskDetailView.as_view(), name="task"),
    path("tasks/<int:task_id>/move/", boards.TaskMoveView.as_view(), name="task_move"),
    path("tasks/<int:task_id>/comments/", boards.TaskCommentsView.as_view(), name="task_comments"),
    # Notifications, unread counts, search.
    path("notifications/", account.NotificationListView.as_view(), name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        account.NotificationReadView.as_view(),
        name="notification_read",
    ),
    path(
        "notifications/read-all/",
        account.NotificationReadAllView.as_view(),
        name="notification_read_all",
    ),
    path(
        "notifications/count/",
        account.NotificationCountView.as_view(),
        name="notification_count",
    ),
    path("unread/", account.UnreadView.as_view(), name="unread"),
    path("search/", account.SearchView.as_view(), name="search"),
    # Personal access tokens (browser session only).
    path("tokens/", account.TokenListView.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", account.TokenDetailView.as_view(), name="token"),
]
