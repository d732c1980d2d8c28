"""Direct messages (issue 10): open the conversation with some people, and the people picker.
The room itself uses the same page, send, history and socket as board rooms."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.access import colleagues
from messaging.services.direct import get_or_create_direct_room

from .common import error_text, json_error, wants_json

PICKER_LIMIT = 10


@require_POST
def direct_open(request: HttpRequest) -> HttpResponse:
    """POST `usernames` (repeated and/or comma-separated): the direct room of me and them,
    created on first use. JSON {"room_id", "url", "created"}, or a redirect to the room."""
    try:
        room, created = get_or_create_direct_room(
            sender=request.user, usernames=request.POST.getlist("usernames")
        )
    except ValidationError as error:
        if wants_json(request):
            return json_error(error_text(error))
        flash.error(request, error_text(error))
        return redirect("messaging:inbox")
    if wants_json(request):
        return JsonResponse(
            {"room_id": room.pk, "url": room.get_absolute_url(), "created": created},
            status=201 if created else 200,
        )
    return redirect(room)


@require_GET
def direct_people(request: HttpRequest) -> JsonResponse:
    """`q`: up to 10 active people who share an organization with me, whose username or
    display name starts with it: the "New message" picker's suggestions."""
    prefix = request.GET.get("q", "").strip().lstrip("@")[:150]
    people = colleagues(request.user).exclude(pk=request.user.pk)
    if prefix:
        people = people.filter(
            Q(username__istartswith=prefix) | Q(display_name__istartswith=prefix)
        )
    rows = people.order_by("username").values("username", "display_name")[:PICKER_LIMIT]
    return JsonResponse(
        {
            "people": [
                {"username": r["username"], "display_name": r["display_name"] or r["username"]}
                for r in rows
            ]
        }
    )
