"""factory-boy factories shared by every app's tests."""

import factory
from django.contrib.auth import get_user_model

from kanban.models import Board, Column, Task
from messaging.models import ChatMessage, ChatRoom, TaskThreadComment

PASSWORD = "taskflow-test-pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)


class BoardFactory(factory.django.DjangoModelFactory):
    """A board whose creator is a member; pass members=[...] to add more."""

    class Meta:
        model = Board
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Board {n}")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def members(self, create: bool, extracted, **kwargs) -> None:
        if not create:
            return
        self.members.add(self.created_by, *(extracted or []))


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
