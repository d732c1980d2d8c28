"""Chat room pages and endpoints. Room pages are for room members only: anyone else gets the
same 404 as for a missing id."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kanban import access as board_access
from kanban.selectors import get_board_for
from messaging import access, ratelimit
from messaging.forms import ChatRoomForm, MemberForm, PostForm
from messaging.models import ChatRoom
from messaging.selectors import conversations as conversation_selectors
from messaging.selectors import rooms as room_selectors
from messaging.selectors.unread import (
    read_receipts,
    room_unread,
    shows_read_receipts,
    with_unread,
)
from messaging.services.notifications import mark_read_for_room
from messaging.services.posting import post_chat_message
from messaging.services.rooms import add_room_member, create_chat_room, remove_room_member

from .common import error_text, history_response, json_error, post_response, wants_json


@require_GET
def room_list(request: HttpRequest, board_id: int) -> HttpResponse:
    board = get_board_for(request.user, board_id)
    rooms = with_unread(room_selectors.board_rooms_for(request.user, board), request.user)
    return render(request, "messaging/room_list.html", {"board": board, "rooms": rooms})


@require_http_methods(["GET", "POST"])
def room_create(request: HttpRequest, board_id: int) -> HttpResponse:
    board = get_board_for(request.user, board_id)
    candidates = board_access.board_readers(board.pk).exclude(pk=request.user.pk)
    form = ChatRoomForm(request.POST or None, candidates=candidates.order_by("username"))
    if request.method == "POST" and form.is_valid():
        try:
            room = create_chat_room(
                board=board,
                created_by=request.user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                members=form.cleaned_data["members"],
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Room #{room.name} created.")
            return redirect(room)
    status = 400 if form.errors else 200
    return render(
        request, "messaging/room_form.html", {"board": board, "form": form}, status=status
    )


def _around(request: HttpRequest) -> int | None:
    """`?around=<message id>` (search results open a room there), if it is a valid id."""
    value = request.GET.get("around", "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 2**63 else None


def _render_room(
    request: HttpRequest, room: ChatRoom, *, form: PostForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    room_seq = conversation_selectors.thread_seq(room)  # first: later changes come via ?since=
    around = _around(request) if request.method == "GET" else None
    page = room_selectors.recent_messages(room, user, around=around) if around else None
    if around and page is None:
        messages.info(request, "That message is not in this room any more.")
        around = None
    # A reply (a search result) lives in its thread: the page is centred on the thread's root,
    # and the page opens the thread at the reply.
    around_root = None
    if around and around not in {message.pk for message in page.items}:
        around_root = room_selectors.thread_root_id(room, around)
    page = page or room_selectors.recent_messages(room, user)
    reactions = conversation_selectors.reactions_by_post("chat_message", (m.pk for m in page.items))
    for message in page.items:
        message.reaction_list = reactions.get(message.pk, [])
    members = list(room_selectors.room_members(room))
    context = {
        "room": room,
        "board": room.board,
        "around": around,
        "around_root": around_root,
        "page": page,
        "room_seq": room_seq,
        "can_moderate": access.can_moderate_room(user, room),
        "members": members,
        "unread": room_unread(user, room.pk),
        "receipts": read_receipts(room, members, user),
        "receipts_enabled": shows_read_receipts(room, len(members)),
        "typists": room_selectors.current_typists(room, exclude_user_id=user.pk),
        "can_manage": room_selectors.can_manage_room(user, room),
        "form": form or PostForm(),
        "max_length": settings.MESSAGE_MAX_LENGTH,
        "typing_expiry": settings.TYPING_EXPIRY_SECONDS,
    }
    if context["can_manage"]:
        context["addable"] = room_selectors.addable_members(room)
    return render(request, "messaging/room_detail.html", context, status=status)


@require_GET
def room_detail(request: HttpRequest, room_id: int) -> HttpResponse:
    room = room_selectors.get_room_for(request.user, room_id)
    mark_read_for_room(user=request.user, room=room)  # opening a room reads its mentions
    return _render_room(request, room)


@require_POST
def room_send(request: HttpRequest, room_id: int) -> HttpResponse:
    room = room_selectors.get_room_for(request.user, room_id)
    return post_response(
        request,
        form=PostForm(request.POST),
        limit=ratelimit.hit(bucket=ratelimit.CHAT, user_id=request.user.pk),
        save=lambda data: post_chat_message(
            room=room,
            author=request.user,
            content=data["content"],
            client_id=data["client_id"],
            parent_id=data["parent_id"],
            attachment_ids=data["attachment_ids"],
        ),
        payload=lambda message: conversation_selectors.message_payloads([message])[0],
        location=lambda message: f"{room.get_absolute_url()}#message-{message.pk}",
        render_form=lambda form, status: _render_room(request, room, form=form, status=status),
    )


@require_GET
def room_history(request: HttpRequest, room_id: int) -> JsonResponse:
    room = room_selectors.get_room_for(request.user, room_id)
    return history_response(
        request,
        key="messages",
        page=lambda **params: conversation_selectors.message_history_page(room, **params),
        payloads=conversation_selectors.message_payloads,
        changes=lambda **params: conversation_selectors.room_changes(room, **params),
        thread=lambda root_id: conversation_selectors.get_thread_root(room, root_id),
    )


@require_POST
def room_members(request: HttpRequest, room_id: int) -> HttpResponse:
    """POST action=add|remove, user=<username or id>: the room's or board's creator only."""
    room = room_selectors.get_room_for(request.user, room_id)
    as_json = wants_json(request)
    if not room_selectors.can_manage_room(request.user, room):
        message = "Only the room's creator or the board's creator can manage members."
        if as_json:
            return json_error(message, status=403)
        messages.error(request, message)
        return redirect(room)
    form = MemberForm(request.POST, candidates=access.room_member_candidates(room))
    if not form.is_valid():
        text = " ".join(e for errors in form.errors.values() for e in errors)
        if as_json:
            return json_error(text)
        messages.error(request, text)
        return redirect(room)
    action, user = form.cleaned_data["action"], form.cleaned_data["user"]
    try:
        if action == "add":
            changed = add_room_member(room=room, user=user, added_by=request.user)
        else:
            changed = remove_room_member(room=room, user=user, removed_by=request.user)
    except ValidationError as error:
        if as_json:
            return json_error(error_text(error))
        messages.error(request, error_text(error))
        return redirect(room)
    if as_json:
        return JsonResponse(
            {"action": action, "user_id": user.pk, "username": user.username, "changed": changed}
        )
    if changed:
        verb = "added to" if action == "add" else "removed from"
        messages.success(request, f"{user.get_display_name()} {verb} #{room.name}.")
    return redirect(room)
