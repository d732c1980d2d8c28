"""`GET /messaging/presence/?room=<id>` or `?board=<id>` (issue 11): the people of one room or
board with their presence. A room or board the user cannot read is a 404. `?direct=1`: the
people of all my direct rooms (the inbox's dots)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from kanban import access as board_access
from kanban.selectors import get_board_for
from messaging import access
from messaging.selectors.rooms import get_room_for
from messaging.services.presence import presence_of
from messaging.views.common import json_error

MAX_ID = 2**31 - 1


class PresenceQueryForm(forms.Form):
    """Exactly one of `room`, `board` or `direct=1`."""

    room = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    board = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    direct = forms.ChoiceField(required=False, choices=[("", ""), ("1", "1")])

    def clean(self) -> dict:
        data = super().clean()
        given = [
            data.get("room") is not None,
            data.get("board") is not None,
            bool(data.get("direct")),
        ]
        if not self.errors and sum(given) != 1:
            raise forms.ValidationError("Pass exactly one of room, board or direct=1.")
        return data

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            prefix = "" if field == "__all__" else f"{field}: "
            return f"{prefix}{errors[0]}"
        return "Invalid query."


@require_GET
def presence(request: HttpRequest) -> JsonResponse:
    """`{"users": [{"username", "status", "last_active"}]}`, by username: the room's readers
    or the board's. A constant number of queries and one read of the presence store. The
    statuses are those the `presence` frames have announced (`presence_of(announced=True)`),
    so a page's refresh and its frames never disagree for good."""
    params = PresenceQueryForm(request.GET)
    if not params.is_valid():
        return json_error(params.first_error())
    data = params.cleaned_data
    if data["room"] is not None:
        people = access.room_readers(get_room_for(request.user, data["room"]).pk)
    elif data["direct"]:
        people = access.direct_partners(request.user)
    else:
        people = board_access.board_readers(get_board_for(request.user, data["board"]).pk)
    users = list(people.only("pk", "username").order_by("username"))
    return JsonResponse({"users": presence_of(users, announced=True)})
