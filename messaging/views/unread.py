"""Unread counts, read pointers and muting (issue 11). JSON for scripts
(`Accept: application/json`); a plain form post is redirected back to the room."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from messaging.forms import MuteForm, ReadPointerForm
from messaging.selectors import rooms as room_selectors
from messaging.selectors.unread import unread_counts
from messaging.services.read_state import mark_room_read, set_room_muted

from .common import error_text, json_error, wants_json


@require_GET
def unread_list(request: HttpRequest) -> JsonResponse:
    """`{"rooms": [{"room_id", "unread", "mentions", "last_message_id", "muted"}], "total"}`."""
    return JsonResponse(unread_counts(request.user))


def _form_errors(form) -> str:
    return " ".join(e for errors in form.errors.values() for e in errors)


@require_POST
def room_read(request: HttpRequest, room_id: int) -> HttpResponse:
    """POST message_id=<id>: the user has read the room up to that message (never back)."""
    room = room_selectors.get_room_for(request.user, room_id)
    form = ReadPointerForm(request.POST)
    as_json = wants_json(request)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        item = mark_room_read(
            room=room, user=request.user, message_id=form.cleaned_data["message_id"]
        )
    except ValidationError as error:
        if as_json:
            return json_error(error_text(error))
        messages.error(request, error_text(error))
        return redirect(room)
    if as_json:
        return JsonResponse(item)
    return redirect(room)


@require_POST
def room_mute(request: HttpRequest, room_id: int) -> HttpResponse:
    """POST muted=true|false: keep the room out of the nav total (its mentions still count)."""
    room = room_selectors.get_room_for(request.user, room_id)
    form = MuteForm(request.POST)
    as_json = wants_json(request)
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        item = set_room_muted(room=room, user=request.user, muted=form.cleaned_data["muted"])
    except ValidationError as error:
        if as_json:
            return json_error(error_text(error))
        messages.error(request, error_text(error))
        return redirect(room)
    if as_json:
        return JsonResponse(item)
    messages.success(request, f"{room} is muted." if item["muted"] else f"{room} is unmuted.")
    return redirect(room)
