"""Notification pages and endpoints, and the @mention autocomplete.

Thin interfaces: look the object up through its access function (another user's notification
is a 404), call one service, answer JSON to scripts and a redirect to plain form posts."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kanban.selectors import get_board_for
from messaging.selectors.mentions import mention_suggestions
from messaging.selectors.notifications import (
    get_notification_for,
    notifications_for,
    unread_count,
)
from messaging.selectors.rooms import get_room_for
from messaging.services import notifications as services
from messaging.views.common import json_error, safe_next, wants_json

PAGE_SIZE = 25


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(notifications_for(request.user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "messaging/notifications.html", {"page": page})


def _after_marking(request: HttpRequest, count: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"success": True, "count": count})
    return redirect(safe_next(request, reverse("messaging:notifications")))


@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = get_notification_for(request.user, notification_id)
    count = services.mark_notification_read(notification=notification, user=request.user)
    return _after_marking(request, count)


@require_POST
def notification_dismiss(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Issue 11: the notification leaves the list (and the count); every tab hears of it."""
    notification = get_notification_for(request.user, notification_id)
    count = services.dismiss_notification(notification=notification, user=request.user)
    return _after_marking(request, count)


@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    return _after_marking(request, services.mark_all_read(user=request.user))


@require_GET
def notification_count(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"count": unread_count(request.user.pk)})


class MentionQueryForm(forms.Form):
    """`q` (a prefix, may be empty) and exactly one of `board` or `room`."""

    q = forms.CharField(required=False, max_length=150, strip=True)
    board = forms.IntegerField(required=False, min_value=1)
    room = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and (data.get("board") is None) == (data.get("room") is None):
            raise forms.ValidationError("Pass exactly one of board or room.")
        return data

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            prefix = "" if field == "__all__" else f"{field}: "
            return f"{prefix}{errors[0]}"
        return "Invalid query."


@require_GET
def mention_autocomplete(request: HttpRequest) -> JsonResponse:
    """Up to 10 `{"username", "display_name"}` members of one board or room (other than the
    user) whose username or display name starts with `q`. A board or room the user is not in
    is a 404."""
    params = MentionQueryForm(request.GET)
    if not params.is_valid():
        return json_error(params.first_error())
    data = params.cleaned_data
    if data["room"] is not None:
        scope = {"room": get_room_for(request.user, data["room"])}
    else:
        scope = {"board": get_board_for(request.user, data["board"])}
    results = mention_suggestions(prefix=data["q"], exclude_user_id=request.user.pk, **scope)
    return JsonResponse({"results": results})
