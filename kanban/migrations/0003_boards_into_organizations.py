"""Put every existing board into an organization, so an upgrade loses nothing.

Each board creator gets one organization (they own it) holding the boards they created, with
every member of those boards as a member. Someone left with no organization at all (on no
board) gets a personal one they own, as sign-up now gives every new user. Board and room
memberships are untouched, so everyone keeps reading exactly what they read before.
"""

from django.db import migrations
from django.utils.text import slugify


def _unique_slug(Organization, base: str, taken: set[str]) -> str:
    base = (slugify(base) or "org")[:50]
    slug, n = base, 1
    while slug in taken or Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def _workspace_name(user) -> str:
    return f"{user.display_name or user.username}'s workspace"[:120]


def forwards(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Organization = apps.get_model("accounts", "Organization")
    Membership = apps.get_model("accounts", "Membership")
    Board = apps.get_model("kanban", "Board")
    BoardMember = Board.members.through
    taken: set[str] = set()

    creator_ids = (
        Board.objects.filter(organization__isnull=True)
        .order_by("created_by_id")
        .values_list("created_by_id", flat=True)
        .distinct()
    )
    for creator in User.objects.filter(pk__in=list(creator_ids)).order_by("pk"):
        org = Organization.objects.create(
            name=_workspace_name(creator), slug=_unique_slug(Organization, creator.username, taken)
        )
        boards = Board.objects.filter(created_by=creator, organization__isnull=True)
        board_ids = list(boards.values_list("pk", flat=True))
        boards.update(organization=org)
        member_ids = set(
            BoardMember.objects.filter(board_id__in=board_ids).values_list("user_id", flat=True)
        )
        member_ids.discard(creator.pk)
        Membership.objects.create(organization=org, user=creator, role="owner")
        Membership.objects.bulk_create(
            [
                Membership(organization=org, user_id=user_id, role="member")
                for user_id in sorted(member_ids)
            ]
        )

    for user in User.objects.filter(memberships__isnull=True).order_by("pk"):
        org = Organization.objects.create(
            name=_workspace_name(user), slug=_unique_slug(Organization, user.username, taken)
        )
        Membership.objects.create(organization=org, user=user, role="owner")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_organizations"),
        ("kanban", "0002_board_organization"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
