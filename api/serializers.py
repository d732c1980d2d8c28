"""Request bodies (validated here, the rules stay in the services) and the response shapes.

Responses are built from the payload builders the pages and sockets already use
(`messaging.realtime`, `kanban.realtime.card`), so an item looks the same wherever it comes
from; the output serializers below describe those shapes for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from messaging.services.posting import CLIENT_ID_MAX_LENGTH

# --- shared pieces ------------------------------------------------------------------------


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField()
    usernames = serializers.ListField(child=serializers.CharField())


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


# --- chat ---------------------------------------------------------------------------------


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    room_id = serializers.IntegerField()
    sender = PersonSerializer()
    content = serializers.CharField(help_text="Empty for a deleted message.")
    html = serializers.CharField(help_text="The content rendered as sanitized HTML.")
    parent_id = serializers.IntegerField(allow_null=True)
    attachments = AttachmentSerializer(many=True)
    reactions = ReactionSerializer(many=True)
    is_edited = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)


def message_json(payload: dict[str, Any]) -> dict[str, Any]:
    """The API's message from the socket payload of the same message."""
    return {
        "id": payload["message_id"],
        "room_id": payload["room_id"],
        "sender": {
            "id": payload["user_id"],
            "username": payload["username"],
            "display_name": payload["display_name"],
        },
        "content": payload["message"],
        "html": payload["html"],
        "parent_id": payload["parent_id"],
        "attachments": payload["attachments"],
        "reactions": payload["reactions"],
        "is_edited": payload["is_edited"],
        "is_deleted": payload["is_deleted"],
        "created_at": payload["timestamp"],
        "edited_at": payload["edited_at"],
    }


class MessageCreateSerializer(serializers.Serializer):
    content = serializers.CharField(
        allow_blank=True, trim_whitespace=False, required=False, default=""
    )
    parent = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Reply in this message's thread."
    )
    client_id = serializers.CharField(
        max_length=CLIENT_ID_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text="Set by the sender: a retry with the same client_id returns the first message.",
    )
    attachment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


class MessageEditSerializer(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class RoomSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(choices=["group", "direct"])
    name = serializers.CharField()
    description = serializers.CharField()
    board_id = serializers.IntegerField(allow_null=True)
    member_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_activity = serializers.DateTimeField()


class RoomDetailSerializer(RoomSerializer):
    members = PersonSerializer(many=True)


class RoomCreateSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["group", "direct"], default="group", help_text="A board room or a direct room."
    )
    board = serializers.IntegerField(
        min_value=1, required=False, help_text="group: the board (you must be a member)."
    )
    name = serializers.CharField(required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    members = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        default=list,
        help_text="Usernames: group, other board members; direct, the 1 to 7 other people.",
    )

    def validate(self, data: dict) -> dict:
        if data["type"] == "group" and data.get("board") is None:
            raise serializers.ValidationError({"board": "A group room belongs to a board."})
        if data["type"] == "direct" and not data["members"]:
            raise serializers.ValidationError({"members": "Name at least one person."})
        return data


class ParticipantSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class ParticipantResultSerializer(serializers.Serializer):
    room_id = serializers.IntegerField()
    username = serializers.CharField()
    changed = serializers.BooleanField(help_text="False when nothing had to change.")


# --- boards, columns, tasks ---------------------------------------------------------------


class LabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()


class ChecklistCountSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    description = serializers.CharField()
    column_id = serializers.IntegerField()
    position = serializers.IntegerField()
    priority = serializers.CharField()
    priority_label = serializers.CharField()
    due_date = serializers.DateField(allow_null=True)
    assignee = PersonSerializer(allow_null=True)
    labels = LabelSerializer(many=True)
    checklist = ChecklistCountSerializer()
    comment_count = serializers.IntegerField()
    url = serializers.CharField()


class ColumnSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    position = serializers.IntegerField()
    task_ids = serializers.ListField(child=serializers.IntegerField())


class BoardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    organization = serializers.CharField(help_text="The organization's slug.")
    created_by = serializers.CharField(help_text="The creator's username.")
    created_at = serializers.DateTimeField()
    task_count = serializers.IntegerField()
    member_count = serializers.IntegerField()


class BoardDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    organization = serializers.CharField()
    version = serializers.IntegerField()
    can_manage = serializers.BooleanField()
    columns = ColumnSerializer(many=True)
    tasks = TaskSerializer(many=True)
    labels = LabelSerializer(many=True)
    members = PersonSerializer(many=True)


class BoardCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    organization = serializers.SlugField(
        required=False, help_text="Slug of one of your organizations (default: your first)."
    )


class BoardUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)


class ColumnCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)


class ColumnUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    position = serializers.IntegerField(min_value=0, required=False)


class TaskCreateSerializer(serializers.Serializer):
    column = serializers.IntegerField(min_value=1, help_text="A column of this board.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    assignee = serializers.CharField(
        required=False, allow_null=True, default=None, help_text="A board member's username."
    )
    priority = serializers.ChoiceField(
        choices=["low", "medium", "high", "urgent"], required=False, default="medium"
    )
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    labels = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


class TaskUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    assignee = serializers.CharField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=["low", "medium", "high", "urgent"], required=False)
    due_date = serializers.DateField(required=False, allow_null=True)
    labels = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class TaskMoveSerializer(serializers.Serializer):
    column = serializers.IntegerField(min_value=1)
    position = serializers.IntegerField(
        min_value=0, required=False, help_text="0 = top; leave out for the bottom."
    )


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task_id = serializers.IntegerField()
    author = PersonSerializer()
    content = serializers.CharField()
    html = serializers.CharField()
    attachments = AttachmentSerializer(many=True)
    reactions = ReactionSerializer(many=True)
    is_edited = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)


def comment_json(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": payload["comment_id"],
        "task_id": payload["task_id"],
        "author": {
            "id": payload["user_id"],
            "username": payload["username"],
            "display_name": payload["display_name"],
        },
        "content": payload["comment"],
        "html": payload["html"],
        "attachments": payload["attachments"],
        "reactions": payload["reactions"],
        "is_edited": payload["is_edited"],
        "is_deleted": payload["is_deleted"],
        "created_at": payload["timestamp"],
        "edited_at": payload["edited_at"],
    }


class CommentCreateSerializer(serializers.Serializer):
    content = serializers.CharField(
        allow_blank=True, trim_whitespace=False, required=False, default=""
    )
    client_id = serializers.CharField(
        max_length=CLIENT_ID_MAX_LENGTH, required=False, default="", allow_blank=True
    )
    attachment_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, default=list
    )


# --- notifications, unread, search ----------------------------------------------------------


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    text = serializers.CharField()
    url = serializers.CharField()
    sender = PersonSerializer(allow_null=True)
    is_read = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Unread notifications.")


class UnreadRoomSerializer(serializers.Serializer):
    room_id = serializers.IntegerField()
    unread = serializers.IntegerField()
    mentions = serializers.IntegerField()
    last_message_id = serializers.IntegerField(allow_null=True)
    last_read_message_id = serializers.IntegerField(allow_null=True)
    muted = serializers.BooleanField()


class UnreadSerializer(serializers.Serializer):
    rooms = UnreadRoomSerializer(many=True)
    total = serializers.IntegerField()


class SearchResultSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["message", "comment", "task"])
    id = serializers.IntegerField()
    url = serializers.CharField()
    snippet = serializers.CharField(help_text="HTML: escaped text, matches in <mark>.")
    author = serializers.CharField()
    created_at = serializers.DateTimeField()
    room_id = serializers.IntegerField(required=False)
    task_id = serializers.IntegerField(required=False)


class SearchPageSerializer(serializers.Serializer):
    results = SearchResultSerializer(many=True)
    has_more = serializers.BooleanField()
    next = serializers.CharField(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())


# --- tokens ---------------------------------------------------------------------------------


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=["read", "write"]), allow_empty=False
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class NewTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    token = serializers.CharField(help_text="Shown this once; only a hash is stored.")
    scopes = serializers.ListField(child=serializers.CharField())
    expires_at = serializers.DateTimeField(allow_null=True)
