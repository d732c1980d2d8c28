"""The per-thread change counter (`last_seq`) that numbers posts and changes for `?since=`."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from messaging.models import ChatMessage, ChatRoom, TaskThreadComment
from messaging.services.editing import edit_chat_message
from messaging.services.posting import post_chat_message, post_task_comment
from tests.factories import BoardFactory, ChatRoomFactory, ColumnFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_posts_and_edits_in_a_room_take_consecutive_numbers(alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    room = ChatRoomFactory(board=board, created_by=alice, members=[bob])
    first = post_chat_message(room=room, author=alice, content="one")
    second = post_chat_message(room=room, author=bob, content="two")
    edited = edit_chat_message(message=first, editor=alice, content="one, edited")
    assert (first.seq, second.seq, edited.seq) == (1, 2, 3)
    room.refresh_from_db()
    assert room.last_seq == 3


def test_a_task_thread_has_its_own_counter(alice):
    board = BoardFactory(created_by=alice)
    column = ColumnFactory(board=board)
    task = TaskFactory(column=column, created_by=alice)
    other = TaskFactory(column=column, created_by=alice)
    assert post_task_comment(task=task, author=alice, content="a").seq == 1
    assert post_task_comment(task=task, author=alice, content="b").seq == 2
    assert post_task_comment(task=other, author=alice, content="c").seq == 1


def test_the_upgrade_starts_each_counter_after_the_numbers_already_used(alice):
    board = BoardFactory(created_by=alice)
    room = ChatRoomFactory(board=board, created_by=alice)
    empty = ChatRoomFactory(board=board, created_by=alice, name="quiet")
    column = ColumnFactory(board=board)
    task = TaskFactory(column=column, created_by=alice)
    ChatMessage.objects.create(chat_room=room, author=alice, content="old", seq=7)
    ChatMessage.objects.create(chat_room=room, author=alice, content="old", seq=4)
    TaskThreadComment.objects.create(task=task, author=alice, content="old", seq=5)
    ChatRoom.objects.update(last_seq=0)
    type(task).objects.update(last_seq=0)

    migration = importlib.import_module("messaging.migrations.0006_thread_change_counters")
    migration.start_counters(apps, None)

    assert ChatRoom.objects.get(pk=room.pk).last_seq == 7
    assert ChatRoom.objects.get(pk=empty.pk).last_seq == 0
    assert type(task).objects.get(pk=task.pk).last_seq == 5
    assert post_chat_message(room=room, author=alice, content="new").seq == 8
