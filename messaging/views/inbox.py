"""The "Messages" page: every room I am in, across my boards, newest activity first."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from messaging.selectors.rooms import inbox_rooms_for
from messaging.selectors.unread import with_unread


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    rooms = with_unread(inbox_rooms_for(request.user), request.user)
    return render(request, "messaging/inbox.html", {"rooms": rooms})
