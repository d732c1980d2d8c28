"""HTTP routes of the messaging app (namespace `messaging:`). The URL list is binding (seed)."""

from django.urls import path

from .views import (
    attachments,
    comments,
    conversations,
    direct,
    inbox,
    notifications,
    presence,
    rooms,
    unread,
)

app_name = "messaging"

urlpatterns: list = [
    # Chat rooms and task threads (issue 3).
    path("", inbox.inbox, name="inbox"),
    path("board/<int:board_id>/rooms/", rooms.room_list, name="room_list"),
    path("board/<int:board_id>/rooms/create/", rooms.room_create, name="room_create"),
    path("room/<int:room_id>/", rooms.room_detail, name="room_detail"),
    path("room/<int:room_id>/send/", rooms.room_send, name="room_send"),
    path("room/<int:room_id>/history/", rooms.room_history, name="room_history"),
    path("room/<int:room_id>/members/", rooms.room_members, name="room_members"),
    path("task/<int:task_id>/comments/", comments.task_comments, name="task_comments"),
    path(
        "task/<int:task_id>/comments/history/",
        comments.task_comment_history,
        name="task_comment_history",
    ),
    # Notifications and @mention autocomplete (issue 4).
    path("notifications/", notifications.notification_list, name="notifications"),
    path(
        "notifications/<int:notification_id>/read/",
        notifications.notification_read,
        name="notification_read",
    ),
    path(
        "notifications/<int:notification_id>/dismiss/",
        notifications.notification_dismiss,
        name="notification_dismiss",
    ),
    path(
        "notifications/read-all/",
        notifications.notification_read_all,
        name="notification_read_all",
    ),
    path("notifications/count/", notifications.notification_count, name="notification_count"),
    path("mentions/", notifications.mention_autocomplete, name="mentions"),
    # Conversations: edit, delete, react, edit history (issue 10).
    path("message/<int:message_id>/edit/", conversations.message_edit, name="message_edit"),
    path("message/<int:message_id>/delete/", conversations.message_delete, name="message_delete"),
    path("message/<int:message_id>/react/", conversations.message_react, name="message_react"),
    path("message/<int:message_id>/edits/", conversations.message_edits, name="message_edits"),
    path("comment/<int:comment_id>/edit/", conversations.comment_edit, name="comment_edit"),
    path("comment/<int:comment_id>/delete/", conversations.comment_delete, name="comment_delete"),
    path("comment/<int:comment_id>/react/", conversations.comment_react, name="comment_react"),
    path("comment/<int:comment_id>/edits/", conversations.comment_edits, name="comment_edits"),
    path("direct/", direct.direct_open, name="direct_open"),
    path("direct/people/", direct.direct_people, name="direct_people"),
    # Presence (issue 11): online / away / offline of a room's or board's people.
    path("presence/", presence.presence, name="presence"),
    # Files in conversations (issue 12).
    path("attachments/", attachments.attachment_upload, name="attachment_upload"),
    path(
        "attachments/<int:attachment_id>/",
        attachments.attachment_download,
        name="attachment_download",
    ),
    path(
        "attachments/<int:attachment_id>/thumbnail/",
        attachments.attachment_thumbnail,
        name="attachment_thumbnail",
    ),
    # Unread per room (issue 11).
    path("unread/", unread.unread_list, name="unread"),
    path("room/<int:room_id>/read/", unread.room_read, name="room_read"),
    path("room/<int:room_id>/mute/", unread.room_mute, name="room_mute"),
]
