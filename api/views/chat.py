"""Chat over the API: rooms, their messages and threads, participants.

Each view finds its object through the access selectors (404 for "missing" and "not yours"
alike), validates the body, and calls the same service as the room page and the socket, so an
API message is saved, broadcast to open sockets, notified and audited exactly like theirs.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.models import User
from kanban import access as board_access
from kanban.selectors import get_board_for
from messaging import access, ratelimit
from messaging.models import ChatRoom
from messaging.selectors import conversations as conversation_selectors
from messaging.selectors import rooms as room_selectors
from messaging.services.direct import get_or_create_direct_room
from messaging.services.editing import delete_chat_message, edit_chat_message
from messaging.services.posting import post_chat_message
from messaging.services.rooms import add_room_member, create_chat_room, remove_room_member

from .. import serializers as s
from .base import CURSOR_PARAMETERS, ApiView, admitted, check_rate, page_of, paginate, validated

# --- rooms --------------------------------------------------------------------------------


def room_json(room: ChatRoom, *, members: bool = False) -> dict[str, Any]:
    """`room` comes from `inbox_rooms_for` (member_count and last_activity annotated)."""
    data = {
        "id": room.pk,
        "type": room.room_type,
        "name": room.name,
        "description": room.description,
        "board_id": room.board_id,
        "member_count": room.member_count,
        "created_at": room.created_at,
        "last_activity": room.last_activity,
    }
    if members:
        data["members"] = [
            {"id": u.pk, "username": u.username, "display_name": u.get_display_name()}
            for u in room_selectors.room_members(room)
        ]
    return data


def _room_detail(user: User, room_id: int) -> dict[str, Any]:
    room = room_selectors.inbox_rooms_for(user).filter(pk=room_id).first()
    return room_json(room, members=True)


def _board_members_named(board_id: int, usernames: list[str]) -> list[User]:
    readers = board_access.board_readers(board_id)
    found = []
    for name in usernames:
        user = readers.filter(username__iexact=name.strip().lstrip("@")).first()
        if user is None:
            raise ValidationError({"members": f"No member of this board is called @{name}."})
        found.append(user)
    return found


class RoomListView(ApiView):
    @extend_schema(
        operation_id="chat_rooms_list",
        summary="My rooms (board and direct), newest activity first",
        responses=s.RoomSerializer(many=True),
    )
    def get(self, request):
        rooms = room_selectors.inbox_rooms_for(request.user)
        return Response([room_json(room) for room in rooms])

    @extend_schema(
        operation_id="chat_rooms_create",
        summary="Create a board room, or open the direct room of a set of people",
        request=s.RoomCreateSerializer,
        responses={
            201: s.RoomDetailSerializer,
            200: OpenApiResponse(s.RoomDetailSerializer, description="That direct room exists"),
        },
    )
    def post(self, request):
        data = validated(s.RoomCreateSerializer, request.data)
        if data["type"] == "direct":
            room, created = get_or_create_direct_room(
                sender=request.user, usernames=data["members"]
            )
        else:
            board = get_board_for(request.user, data["board"])
            room = create_chat_room(
                board=board,
                created_by=request.user,
                name=data["name"],
                description=data["description"],
                members=_board_members_named(board.pk, data["members"]),
            )
            created = True
        return Response(
            _room_detail(request.user, room.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoomDetailView(ApiView):
    @extend_schema(operation_id="chat_rooms_retrieve", responses=s.RoomDetailSerializer)
    def get(self, request, room_id: int):
        room = room_selectors.get_room_for(request.user, room_id)
        return Response(_room_detail(request.user, room.pk))


# --- messages -----------------------------------------------------------------------------


def message_items(messages: list) -> list[dict[str, Any]]:
    return [s.message_json(p) for p in conversation_selectors.message_payloads(messages)]


def message_item(message) -> dict[str, Any]:
    message.refresh_from_db()
    return message_items([message])[0]


class RoomMessagesView(ApiView):
    @extend_schema(
        operation_id="chat_rooms_messages_list",
        summary="A room's top-level messages, newest first; ?parent=<id> for a thread",
        parameters=[
            OpenApiParameter("parent", int, description="A message id: its thread's replies."),
            *CURSOR_PARAMETERS,
        ],
        responses=page_of(s.MessageSerializer, "PaginatedMessageList"),
    )
    def get(self, request, room_id: int):
        room = room_selectors.get_room_for(request.user, room_id)
        parent = request.query_params.get("parent")
        if parent is not None:
            if not (parent.isascii() and parent.isdigit() and 0 < int(parent) < 2**63):
                raise ValidationError({"parent": "parent must be a message id."})
            conversation_selectors.get_thread_root(room, int(parent))  # 404 if not there
        queryset = conversation_selectors.room_messages(
            room, parent=int(parent) if parent else None
        ).prefetch_related(
            Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))
        )
        return paginate(self, queryset, message_items)

    @extend_schema(
        operation_id="chat_rooms_messages_create",
        summary="Send a message (a reply with parent)",
        request=s.MessageCreateSerializer,
        responses={201: s.MessageSerializer},
    )
    def post(self, request, room_id: int):
        room = room_selectors.get_room_for(request.user, room_id)
        check_rate(bucket=ratelimit.CHAT, user_id=request.user.pk)
        data = validated(s.MessageCreateSerializer, request.data)
        with admitted():
            message = post_chat_message(
                room=room,
                author=request.user,
                content=data["content"],
                client_id=data["client_id"],
                parent_id=data.get("parent"),
                attachment_ids=data["attachment_ids"],
            )
        return Response(message_item(message), status=status.HTTP_201_CREATED)


class MessageDetailView(ApiView):
    @extend_schema(operation_id="chat_messages_retrieve", responses=s.MessageSerializer)
    def get(self, request, message_id: int):
        message = conversation_selectors.get_message_for(request.user, message_id)
        return Response(message_item(message))

    @extend_schema(
        operation_id="chat_messages_partial_update",
        summary="Edit your own message",
        request=s.MessageEditSerializer,
        responses=s.MessageSerializer,
    )
    def patch(self, request, message_id: int):
        message = conversation_selectors.get_message_for(request.user, message_id)
        check_rate(bucket=ratelimit.CHAT, user_id=request.user.pk)
        data = validated(s.MessageEditSerializer, request.data)
        edit_chat_message(message=message, editor=request.user, content=data["content"])
        return Response(message_item(message))

    @extend_schema(
        operation_id="chat_messages_destroy",
        summary="Delete your own message (moderators: anyone's); it becomes a tombstone",
        responses={204: None},
    )
    def delete(self, request, message_id: int):
        message = conversation_selectors.get_message_for(request.user, message_id)
        check_rate(bucket=ratelimit.CHAT, user_id=request.user.pk)
        delete_chat_message(message=message, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- participants -------------------------------------------------------------------------


class RoomParticipantsView(ApiView):
    def _change(self, request, room_id: int, *, add: bool) -> Response:
        room = room_selectors.get_room_for(request.user, room_id)
        if not access.can_manage_room(request.user, room):
            raise ValidationError(
                "Only the room's creator or the board's creator can manage members.",
                code="forbidden",
            )
        body = request.data if request.data else request.query_params
        name = validated(s.ParticipantSerializer, body)["username"].strip().lstrip("@")
        user = access.room_member_candidates(room).filter(username__iexact=name).first()
        if user is None:
            raise ValidationError({"username": f"No member of this board is called @{name}."})
        if add:
            changed = add_room_member(room=room, user=user, added_by=request.user)
        else:
            changed = remove_room_member(room=room, user=user, removed_by=request.user)
        return Response({"room_id": room.pk, "username": user.username, "changed": changed})

    @extend_schema(
        operation_id="chat_rooms_participants_create",
        summary="Add a board member to the room (the room's or board's managers)",
        request=s.ParticipantSerializer,
        responses=s.ParticipantResultSerializer,
    )
    def post(self, request, room_id: int):
        return self._change(request, room_id, add=True)

    @extend_schema(
        operation_id="chat_rooms_participants_destroy",
        summary="Remove a member from the room (body or ?username=)",
        request=s.ParticipantSerializer,
        parameters=[OpenApiParameter("username", str, required=False)],
        responses=s.ParticipantResultSerializer,
    )
    def delete(self, request, room_id: int):
        return self._change(request, room_id, add=False)
