"""The "Messages" page: every room I am in, across my boards, newest activity first."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from messaging import access
from messaging.selectors.rooms import inbox_rooms_for
from messaging.selectors.unread import with_unread


@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    rooms = list(with_unread(inbox_rooms_for(request.user), request.user))
    if any(room.is_direct for room in rooms):
        # The other people of each direct room, for their presence dots (one query).
        partners = dict(access.direct_partners(request.user).values_list("pk", "username"))
        for room in rooms:
            room.partners = [partners[i] for i in room.participant_ids if i in partners]
    return render(request, "messaging/inbox.html", {"rooms": rooms})
