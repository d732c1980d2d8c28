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

from accounts.access import member_rows
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


def _shared_organization_ids(user_ids: list[int]) -> list[int]:
    """Organizations every one of `user_ids` is an active member of, lowest id first."""
    orgs: set[int] | None = None
    rows = member_rows().filter(user_id__in=user_ids).values_list("user_id", "organization_id")
    by_user: dict[int, set[int]] = {}
    for user_id, org_id in rows:
        by_user.setdefault(user_id, set()).add(org_id)
    for user_id in user_ids:
        mine = by_user.get(user_id, set())
        orgs = mine if orgs is None else orgs & mine
    return sorted(orgs or ())


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
    my_orgs = member_rows().filter(user=sender).values("organization_id")
    colleagues = User.objects.filter(
        is_active=True, pk__in=member_rows().filter(organization_id__in=my_orgs).values("user_id")
    )
    found: dict[str, User] = {}
    matches = colleagues.annotate(lowered=Lower("username")).filter(
        lowered__in=[name.lower() for name in others]
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
    shared = _shared_organization_ids(people)
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
