"""Webhook pages and the incoming endpoint (issue 15). Thin: find through access, validate,
call one service, render."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from kanban import access as board_access
from kanban.selectors import get_board_for
from messaging import ratelimit
from messaging.selectors.rooms import get_room_for

from . import services
from .models import Event, IncomingWebhook, OutgoingWebhook

DELIVERY_LOG_SIZE = 20
# Session key: the secret URL shown once, after creating or rotating an incoming webhook.
NEW_URL_KEY = "webhooks_new_url"


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


# --- incoming: the endpoint --------------------------------------------------------------


@csrf_exempt
@login_not_required
@require_POST
def incoming(request: HttpRequest, secret: str) -> HttpResponse:
    """POST JSON {"text": "..."}: post it in the webhook's room as its bot. The secret in
    the URL is the only credential: no session, no CSRF token (nothing a browser sends on
    its own can post here)."""
    webhook = services.incoming_webhook_for_token(secret)
    if webhook is None:
        return _error("No such webhook (unknown, rotated or deleted).", status=404)
    limit = ratelimit.hit(bucket=ratelimit.WEBHOOK, user_id=webhook.bot_id)
    if not limit.allowed:
        response = _error(limit.message, status=429)
        response["Retry-After"] = str(limit.retry_after)
        return response
    try:
        data = json.loads(request.body or b"null")
    except RequestDataTooBig:
        return _error("The body is too large.", status=413)
    except (ValueError, UnicodeDecodeError):
        return _error('The body must be JSON, e.g. {"text": "Deployed v1.2"}.')
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return _error('The body must be a JSON object with a "text" string.')
    try:
        message = services.post_incoming_message(webhook=webhook, text=data["text"])
    except ValidationError as error:
        status = 403 if error.code == "not_member" else 400
        if status == 403:
            text = "The webhook's bot is no longer a member of the room."
        else:
            text = " ".join(error.messages)
        return _error(text, status=status)
    return JsonResponse({"ok": True, "message_id": message.pk}, status=201)


# --- incoming: management on the room ----------------------------------------------------


def incoming_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("webhooks:incoming", args=[token]))


@require_http_methods(["GET", "POST"])
def room_webhooks(request: HttpRequest, room_id: int) -> HttpResponse:
    """A room's incoming webhooks: list them, create one (any room member)."""
    room = get_room_for(request.user, room_id)
    if room.is_direct:
        raise Http404("Direct rooms have no webhooks.")
    if request.method == "POST":
        try:
            webhook, token = services.create_incoming_webhook(
                room=room, name=request.POST.get("name", ""), created_by=request.user
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            request.session[NEW_URL_KEY] = {"id": webhook.pk, "url": incoming_url(request, token)}
            messages.success(request, f"Webhook “{webhook.name}” created. Copy its URL now.")
        return redirect("webhooks:room_webhooks", room_id=room.pk)
    new = request.session.pop(NEW_URL_KEY, None)
    hooks = IncomingWebhook.objects.filter(room=room, revoked_at__isnull=True).select_related(
        "created_by"
    )
    return render(
        request,
        "webhooks/room_webhooks.html",
        {"room": room, "board": room.board, "hooks": hooks, "new": new},
    )


def _incoming_for(request: HttpRequest, room_id: int, incoming_id: int) -> IncomingWebhook:
    room = get_room_for(request.user, room_id)
    hook = IncomingWebhook.objects.filter(
        room=room, pk=incoming_id, revoked_at__isnull=True
    ).first()
    if hook is None:
        raise Http404("No such webhook.")
    return hook


@require_POST
def room_webhook_rotate(request: HttpRequest, room_id: int, incoming_id: int) -> HttpResponse:
    hook = _incoming_for(request, room_id, incoming_id)
    token = services.rotate_incoming_webhook(webhook=hook, rotated_by=request.user)
    request.session[NEW_URL_KEY] = {"id": hook.pk, "url": incoming_url(request, token)}
    messages.success(request, f"New secret URL for “{hook.name}”; the old one no longer works.")
    return redirect("webhooks:room_webhooks", room_id=room_id)


@require_POST
def room_webhook_delete(request: HttpRequest, room_id: int, incoming_id: int) -> HttpResponse:
    hook = _incoming_for(request, room_id, incoming_id)
    services.revoke_incoming_webhook(webhook=hook, revoked_by=request.user)
    messages.success(request, f"Webhook “{hook.name}” deleted; its messages stay.")
    return redirect("webhooks:room_webhooks", room_id=room_id)


# --- outgoing: management on the board ---------------------------------------------------


def _managed_board(request: HttpRequest, board_id: int):
    board = get_board_for(request.user, board_id)  # unreadable: 404
    if not board_access.can_manage_board(request.user, board):
        raise PermissionDenied("Only the board's creator and the organization's admins.")
    return board


@require_http_methods(["GET", "POST"])
def board_webhooks(request: HttpRequest, board_id: int) -> HttpResponse:
    """A board's outgoing webhooks with their delivery logs; add one (board admins)."""
    board = _managed_board(request, board_id)
    form = {"url": "", "events": []}
    status = 200
    if request.method == "POST":
        form = {"url": request.POST.get("url", ""), "events": request.POST.getlist("events")}
        try:
            services.create_outgoing_webhook(
                board=board, url=form["url"], events=form["events"], created_by=request.user
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            status = 400
        else:
            messages.success(request, "Webhook added. Send a test ping to check it.")
            return redirect("webhooks:board_webhooks", board_id=board.pk)
    hooks = list(OutgoingWebhook.objects.filter(board=board))
    for hook in hooks:
        hook.log = list(hook.deliveries.order_by("-created_at", "-id")[:DELIVERY_LOG_SIZE])
    return render(
        request,
        "webhooks/board_webhooks.html",
        {
            "board": board,
            "hooks": hooks,
            "events": Event.choices,
            "form": form,
            "max_attempts": settings.WEBHOOK_MAX_ATTEMPTS,
        },
        status=status,
    )


def _outgoing_for(request: HttpRequest, board_id: int, outgoing_id: int) -> OutgoingWebhook:
    board = _managed_board(request, board_id)
    hook = (
        OutgoingWebhook.objects.filter(board=board, pk=outgoing_id).select_related("board").first()
    )
    if hook is None:
        raise Http404("No such webhook.")
    return hook


@require_POST
def board_webhook_delete(request: HttpRequest, board_id: int, outgoing_id: int) -> HttpResponse:
    hook = _outgoing_for(request, board_id, outgoing_id)
    services.delete_outgoing_webhook(webhook=hook, deleted_by=request.user)
    messages.success(request, f"Webhook to {hook.url} deleted.")
    return redirect("webhooks:board_webhooks", board_id=board_id)


@require_POST
def board_webhook_ping(request: HttpRequest, board_id: int, outgoing_id: int) -> HttpResponse:
    hook = _outgoing_for(request, board_id, outgoing_id)
    services.send_test_ping(webhook=hook, sent_by=request.user)
    messages.success(request, "Test ping sent; its outcome is in the delivery log.")
    return redirect("webhooks:board_webhooks", board_id=board_id)


@require_POST
def board_webhook_rotate(request: HttpRequest, board_id: int, outgoing_id: int) -> HttpResponse:
    hook = _outgoing_for(request, board_id, outgoing_id)
    services.rotate_outgoing_secret(webhook=hook, rotated_by=request.user)
    messages.success(request, "New signing secret; deliveries from now on use it.")
    return redirect("webhooks:board_webhooks", board_id=board_id)
