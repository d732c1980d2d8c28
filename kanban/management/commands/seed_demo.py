"""`manage.py seed_demo`: demo users, two organizations and their boards, so a fresh install
has something to click on: "Acme" (alice owns it; bob and carol) with the launch board and its
chat, and "Globex" (dave owns it; erin) with a board of its own, so the boundary between
organizations is visible. Idempotent: a second run finds everything in place and changes
nothing (existing users keep their passwords, existing tasks their state).

The command is a list of steps (`STEPS`); each takes and returns the shared `Demo` record. To
seed more (a chat room, say), write a step function and append it to `STEPS`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import org_services
from accounts.models import Membership, Organization, User
from kanban import cards, services
from kanban.models import Board, Column, Task
from messaging.models import ChatMessage, ChatRoom
from messaging.services.posting import post_chat_message
from messaging.services.rooms import add_room_member, create_chat_room

DEMO_PASSWORD = "taskflow-demo"
BOARD_NAME = "TaskFlow launch"

# username, display name, staff+superuser
USERS = (
    ("alice", "Alice Anders", True),
    ("bob", "Bob Baker", False),
    ("carol", "Carol Chen", False),
    ("dave", "Dave Duarte", False),
    ("erin", "Erin Engel", False),
)

# slug, name, owner, members
ORGANIZATIONS = (
    ("acme", "Acme", "alice", ("bob", "carol")),
    ("globex", "Globex", "dave", ("erin",)),
)
ACME_MEMBERS = ("alice", "bob", "carol")
GLOBEX_BOARD_NAME = "Globex roadmap"
GLOBEX_TASKS = (
    ("Draft the Q3 roadmap", "To Do", "erin"),
    ("Interview three customers", "In Progress", "dave"),
)

# title, column, assignee, priority, due in days (None = no due date), description
TASKS = (
    ("Write the launch announcement", "To Do", "carol", "medium", 5, "Blog post and mailing list."),
    ("Set up the production database", "To Do", "bob", "urgent", 1, "PostgreSQL 16, backups on."),
    ("Invite the beta testers", "To Do", None, "low", None, ""),
    ("Design the onboarding tour", "In Progress", "alice", "high", 3, "Three steps, skippable."),
    ("Load-test the chat server", "In Progress", "bob", "high", 4, "Target: 500 open sockets."),
    ("Pick the product name", "Done", "alice", "medium", -7, "TaskFlow it is."),
)


@dataclass
class Demo:
    """What the steps have created or found so far, and what to tell the operator."""

    users: dict[str, User] = field(default_factory=dict)
    organizations: dict[str, Organization] = field(default_factory=dict)
    board: Board | None = None
    created: list[str] = field(default_factory=list)


def seed_users(demo: Demo) -> Demo:
    for username, display_name, is_admin in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username,
                display_name=display_name,
                email=f"{username}@example.com",
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            demo.created.append(f"user {username}")
        demo.users[username] = user
    return demo


def seed_organizations(demo: Demo) -> Demo:
    for slug, name, owner_name, member_names in ORGANIZATIONS:
        owner = demo.users[owner_name]
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = org_services.create_organization(name=name, created_by=owner)
            demo.created.append(f"organization “{name}”")
        if not Membership.objects.filter(organization=organization, user=owner).exists():
            # Someone else's organization under the demo's slug: joining it takes its owners'
            # invitation, not a seed script writing a membership behind the services' back.
            raise CommandError(
                f"An organization “{organization.name}” (slug “{slug}”) already exists "
                f"without {owner_name} in it; seed_demo leaves it alone. Rename its slug "
                "or seed an empty database."
            )
        for member_name in member_names:
            member = demo.users[member_name]
            if not Membership.objects.filter(organization=organization, user=member).exists():
                org_services.add_member(organization=organization, user=member, added_by=owner)
                demo.created.append(f"{member_name} in {name}")
        demo.organizations[slug] = organization
    return demo


def seed_board(demo: Demo) -> Demo:
    alice = demo.users["alice"]
    board = Board.objects.filter(name=BOARD_NAME, created_by=alice).first()
    if board is None:
        board = services.create_board(
            name=BOARD_NAME,
            description="Everything between today and the public launch.",
            created_by=alice,
            organization=demo.organizations["acme"],
        )
        demo.created.append(f"board “{BOARD_NAME}”")
    member_ids = set(board.members.values_list("pk", flat=True))
    for user in (demo.users[name] for name in ACME_MEMBERS):
        if user.pk not in member_ids:
            services.add_member(board=board, username=user.username, added_by=alice)
            demo.created.append(f"membership of {user.username}")
    for name in services.DEFAULT_COLUMNS:
        if not board.columns.filter(name=name).exists():
            services.create_column(board=board, name=name, created_by=alice)
            demo.created.append(f"column “{name}”")
    demo.board = board
    return demo


def seed_tasks(demo: Demo) -> Demo:
    board = demo.board
    assert board is not None, "seed_board runs first"
    today = timezone.localdate()
    existing = set(Task.objects.filter(column__board=board).values_list("title", flat=True))
    for title, column_name, assignee, priority, due_in, description in TASKS:
        if title in existing:
            continue
        services.create_task(
            column=Column.objects.filter(board=board, name=column_name).order_by("pk").first(),
            title=title,
            description=description,
            assignee=demo.users[assignee] if assignee else None,
            priority=priority,
            due_date=today + datetime.timedelta(days=due_in) if due_in is not None else None,
            created_by=demo.users["alice"],
        )
        demo.created.append(f"task “{title}”")
    return demo


# label name, colour, task titles that carry it
LABELS = (
    ("Backend", "blue", ("Set up the production database", "Load-test the chat server")),
    ("Marketing", "purple", ("Write the launch announcement", "Invite the beta testers")),
    ("Design", "green", ("Design the onboarding tour",)),
    ("Blocker", "red", ("Set up the production database",)),
)

# task title, checklist items (text, done)
CHECKLISTS = (
    (
        "Design the onboarding tour",
        (("Sketch the three steps", True), ("Copy review", True), ("Build it", False)),
    ),
    (
        "Load-test the chat server",
        (("Write the load script", True), ("Run at 500 sockets", False)),
    ),
)


def seed_cards(demo: Demo) -> Demo:
    """Labels on the board and a few cards, and two checklists (only where none exist yet)."""
    board = demo.board
    assert board is not None, "seed_board runs first"
    alice = demo.users["alice"]
    tasks = {task.title: task for task in Task.objects.filter(column__board=board)}
    for name, colour, titles in LABELS:
        label = board.labels.filter(name__iexact=name).first()
        if label is None:
            label = cards.create_label(board=board, name=name, colour=colour, created_by=alice)
            demo.created.append(f"label “{name}”")
            for title in titles:
                task = tasks[title]
                services.set_task_labels(
                    task=task, labels=[*task.labels.all(), label], changed_by=alice
                )
    for title, items in CHECKLISTS:
        task = tasks[title]
        if task.checklist_items.exists():
            continue
        for text, done in items:
            item = cards.add_checklist_item(task=task, text=text, added_by=alice)
            if done:
                cards.set_checklist_item_done(item=item, done=True, changed_by=alice)
        demo.created.append(f"checklist on “{title}”")
    return demo


ROOM_NAME = "General"

# author, client_id (makes re-posting a no-op), text
CHAT = (
    ("alice", "seed-general-1", "Welcome to #General! Day-to-day launch chatter goes here."),
    ("bob", "seed-general-2", "Thanks @alice! Starting the chat server load test today."),
    ("carol", "seed-general-3", "@bob ping me with the numbers and I'll put them in the post."),
)


def seed_chat(demo: Demo) -> Demo:
    """A "General" room with every demo user and a short conversation."""
    board = demo.board
    assert board is not None, "seed_board runs first"
    alice = demo.users["alice"]
    room = ChatRoom.objects.filter(board=board, name__iexact=ROOM_NAME).first()
    if room is None:
        room = create_chat_room(
            board=board,
            created_by=alice,
            name=ROOM_NAME,
            description="Everyone on the launch board.",
            members=[demo.users[name] for name in ACME_MEMBERS],
        )
        demo.created.append(f"room #{ROOM_NAME}")
    for user in (demo.users[name] for name in ACME_MEMBERS):
        if add_room_member(room=room, user=user, added_by=alice):
            demo.created.append(f"{user.username} in #{ROOM_NAME}")
    for username, client_id, text in CHAT:
        author = demo.users[username]
        if not ChatMessage.objects.filter(chat_room=room, author=author, client_id=client_id):
            post_chat_message(room=room, author=author, content=text, client_id=client_id)
            demo.created.append(f"message from {username}")
    return demo


def seed_globex(demo: Demo) -> Demo:
    """Globex's own board (dave and erin): nobody at Acme can see it or pick them."""
    dave, erin = demo.users["dave"], demo.users["erin"]
    board = Board.objects.filter(name=GLOBEX_BOARD_NAME, created_by=dave).first()
    if board is None:
        board = services.create_board(
            name=GLOBEX_BOARD_NAME,
            description="Globex's plans: invisible to Acme.",
            created_by=dave,
            organization=demo.organizations["globex"],
        )
        demo.created.append(f"board “{GLOBEX_BOARD_NAME}”")
    if not board.members.filter(pk=erin.pk).exists():
        services.add_member(board=board, username=erin.username, added_by=dave)
        demo.created.append("membership of erin")
    existing = set(Task.objects.filter(column__board=board).values_list("title", flat=True))
    for title, column_name, assignee in GLOBEX_TASKS:
        column = Column.objects.filter(board=board, name=column_name).order_by("pk").first()
        if title in existing or column is None:
            continue
        services.create_task(
            column=column, title=title, assignee=demo.users[assignee], created_by=dave
        )
        demo.created.append(f"task “{title}”")
    return demo


STEPS: list[Callable[[Demo], Demo]] = [
    seed_users,
    seed_organizations,
    seed_board,
    seed_tasks,
    seed_cards,
    seed_chat,
    seed_globex,
]


class Command(BaseCommand):
    help = (
        "Create demo users, the Acme and Globex organizations and their boards. Safe to run again."
    )

    def handle(self, *args: object, **options: object) -> None:
        demo = Demo()
        with transaction.atomic():
            for step in STEPS:
                demo = step(demo)

        if demo.created:
            self.stdout.write(self.style.SUCCESS("Created: " + ", ".join(demo.created) + "."))
        else:
            self.stdout.write("Demo data already in place; nothing changed.")
        self.stdout.write(
            f"\nDemo logins (password “{DEMO_PASSWORD}” for users this command created):"
        )
        for username, display_name, is_admin in USERS:
            role = "  staff + superuser: try /admin/" if is_admin else ""
            self.stdout.write(f"  {username:<6} {display_name}{role}")
        self.stdout.write(
            "\nOrganizations: Acme (alice owns it; bob, carol), Globex (dave owns it; erin)"
        )
        if demo.board is not None:
            self.stdout.write(
                f"Shared board: “{demo.board.name}” at {demo.board.get_absolute_url()}"
            )
