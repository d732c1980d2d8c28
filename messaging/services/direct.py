"""Direct rooms: conversations of 2 to 8 people outside any board (issue 10).

The same set of people always gets the same room: its `direct_key` (the participants' ids,
sorted) is unique among direct rooms, so two requests racing to create it end with one room.
Only people who share an organization with the sender can be named; the room belongs to an
organization every participant is in, and `messaging.access` lets its participants read it
while they stay active members of that organization.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from accounts.access import colleagues, shared_organization_ids
from accounts.models import User
from messaging.models import ChatRoom

MIN_PARTICIPANTS = 2
MAX_PARTICIPANTS = 8


def parse_usernames(values: Iterable[str]) -> list[str]:
    """Names from repeated fields and/or comma-separated lists, without "@", in order, once."""
    names: dict[str, str] = {}
    for value in values:
        for part in str(value).split(","):
            name = part.strip().lstrip("@").strip()
            if name:
                names.setdefault(name.lower(), name)
    return list(names.values())


def get_or_create_direct_room(*, sender: User, usernames: Iterable[str]) -> tuple[ChatRoom, bool]:
    """The direct room of `sender` and the people named, created if it does not exist yet.
    Returns (room, created). ValidationError (a message a person can act on) for no names,
    only yourself, too many people, unknown names or people outside your organizations."""
    names = parse_usernames(usernames)
    others = [name for name in names if name.lower() != sender.username.lower()]
    if not others:
        if names:
            raise ValidationError("Name someone other than yourself.", code="only_self")
        raise ValidationError("Name at least one person to message.", code="empty")
    if len(others) + 1 > MAX_PARTICIPANTS:  # MIN_PARTICIPANTS holds: sender + one other
        raise ValidationError(
            f"A direct conversation has at most {MAX_PARTICIPANTS} people "
            f"(you named {len(others)} besides yourself).",
            code="too_many",
        )
    found: dict[str, User] = {}
    matches = (
        colleagues(sender)
        .annotate(lowered=Lower("username"))
        .filter(lowered__in=[name.lower() for name in others])
    )
    for user in matches.order_by("pk"):
        found.setdefault(user.lowered, user)
    missing = [name for name in others if name.lower() not in found]
    if missing:
        raise ValidationError(
            "No one in your organizations is called " + ", ".join(f"@{n}" for n in missing) + ".",
            code="unknown",
        )
    people = sorted({sender.pk, *(user.pk for user in found.values())})
    shared = shared_organization_ids(people)
    if not shared:
        raise ValidationError(
            "These people do not all belong to one organization: start a conversation "
            "within one organization.",
            code="no_shared_organization",
        )
    key = ",".join(map(str, people))
    existing = ChatRoom.objects.filter(room_type=ChatRoom.RoomType.DIRECT, direct_key=key).first()
    if existing is not None:
        return existing, False
    usernames_sorted = sorted([sender.username, *(user.username for user in found.values())])
    try:
        with transaction.atomic():
            room = ChatRoom.objects.create(
                room_type=ChatRoom.RoomType.DIRECT,
                organization_id=shared[0],
                direct_key=key,
                name=", ".join(usernames_sorted)[:80],
                created_by=sender,
            )
            room.members.add(*people)
    except IntegrityError:  # a concurrent request created it first
        return ChatRoom.objects.get(room_type=ChatRoom.RoomType.DIRECT, direct_key=key), False
    return room, True
