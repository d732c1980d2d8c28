"""factory-boy factories shared by every app's tests."""

from functools import cache

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from accounts.models import Membership, Organization
from kanban.models import Board, Column, Task
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment

PASSWORD = "taskflow-test-pw"


@cache
def _password_hash(hashers: tuple[str, ...]) -> str:
    return make_password(PASSWORD)  # with the first of `hashers`, the current default


def hashed_password() -> str:
    """PASSWORD hashed once per hasher setting: hashing it again for every user (PBKDF2's
    million rounds, a quarter of a second here) was minutes of the suite's time."""
    return _password_hash(tuple(settings.PASSWORD_HASHERS))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.LazyFunction(hashed_password)  # PASSWORD, already hashed


class OrganizationFactory(factory.django.DjangoModelFactory):
    """An organization; owner=<user> makes them its owner, members=[...] adds members."""

    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")

    @factory.post_generation
    def owner(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted is not None:
            join_organization(self, extracted, role=Membership.Role.OWNER)

    @factory.post_generation
    def members(self, create: bool, extracted, **kwargs) -> None:
        if create:
            for user in extracted or ():
                join_organization(self, user)


def join_organization(organization, user, role: str = Membership.Role.MEMBER) -> Membership:
    """Make `user` a member of `organization` (a no-op, keeping the role, if they are)."""
    membership, _ = Membership.objects.get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


def home_organization(user) -> Organization:
    """The user's first organization, or a new one they own (what sign-up would give them)."""
    membership = Membership.objects.filter(user=user).order_by("pk").first()
    if membership is not None:
        return membership.organization
    return OrganizationFactory(name=f"{user.username}'s workspace", owner=user)


def add_board_members(board, *users) -> None:
    """Put users on a board, joining them to its organization first (as the services
    require): for tests that arrange data directly."""
    for user in users:
        join_organization(board.organization, user)
    board.members.add(*users)


class BoardFactory(factory.django.DjangoModelFactory):
    """A board whose creator is a member, in the creator's first organization (a new one
    they own if they have none); members=[...] adds more, joining them to the
    organization. Pass organization=... to choose it."""

    class Meta:
        model = Board
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Board {n}")
    created_by = factory.SubFactory(UserFactory)
    organization = factory.LazyAttribute(lambda b: home_organization(b.created_by))

    @factory.post_generation
    def members(self, create: bool, extracted, **kwargs) -> None:
        if not create:
            return
        add_board_members(self, self.created_by, *(extracted or []))


class ColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Column

    board = factory.SubFactory(BoardFactory)
    name = factory.Sequence(lambda n: f"Column {n}")
    position = factory.Sequence(lambda n: n)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    column = factory.SubFactory(ColumnFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    position = factory.Sequence(lambda n: n)
    created_by = factory.LazyAttribute(lambda t: t.column.board.created_by)


class ChatRoomFactory(factory.django.DjangoModelFactory):
    """A room on a board; the board creator creates it. members=[...] adds room members."""

    class Meta:
        model = ChatRoom
        skip_postgeneration_save = True

    board = factory.SubFactory(BoardFactory)
    name = factory.Sequence(lambda n: f"room-{n}")
    created_by = factory.LazyAttribute(lambda r: r.board.created_by)

    @factory.post_generation
    def members(self, create: bool, extracted, **kwargs) -> None:
        if not create:
            return
        self.members.add(self.created_by, *(extracted or []))


class ChatMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChatMessage

    chat_room = factory.SubFactory(ChatRoomFactory)
    author = factory.LazyAttribute(lambda m: m.chat_room.created_by)
    content = factory.Sequence(lambda n: f"message {n}")


class TaskThreadCommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskThreadComment

    task = factory.SubFactory(TaskFactory)
    author = factory.LazyAttribute(lambda c: c.task.created_by)
    content = factory.Sequence(lambda n: f"comment {n}")


# --- Issue 12: attachments ------------------------------------------------------------------


class AttachmentFactory(factory.django.DjangoModelFactory):
    """An uploaded text file (stored under MEDIA_ROOT, a temporary directory in tests), not
    sent yet unless attached_at is given."""

    class Meta:
        model = "messaging.Attachment"

    file = factory.django.FileField(data=b"attachment bytes", filename="a.bin")
    name = factory.Sequence(lambda n: f"file-{n}.txt")
    content_type = "text/plain"
    size = 16
    sha256 = "0" * 64
    uploaded_by = factory.SubFactory(UserFactory)
    organization = factory.LazyAttribute(lambda a: home_organization(a.uploaded_by))
