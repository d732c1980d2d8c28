"""`manage.py reindex_search` rebuilds the index from the data, whatever state it was in."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from messaging.services import editing
from search import engine, indexing
from search.models import SearchDocument

pytestmark = pytest.mark.django_db


def test_reindex_rebuilds_a_wiped_and_a_stale_index(room, task, alice, say, comment_on, found):
    messages = [say(room, alice, f"lighthouse beacon {i}") for i in range(7)]
    comment = comment_on(task, alice, "lighthouse comment")
    SearchDocument.objects.filter(kind="message").delete()  # wiped
    engine.upsert(  # and a row for something that no longer exists
        [
            {
                **SearchDocument.objects.filter(kind="comment").values(*engine.ROW_FIELDS).get(),
                "kind": "comment",
                "object_id": 999_999,
                "comment_id": None,
                "text": "ghost lighthouse",
            }
        ]
    )
    assert found(alice, "beacon") == []

    out = io.StringIO()
    call_command("reindex_search", "--batch-size", "3", stdout=out)

    assert sorted(found(alice, "beacon", order="newest")) == sorted(
        ("message", m.pk) for m in messages
    )
    assert ("comment", comment.pk) in found(alice, "lighthouse")
    assert found(alice, "ghost") == []
    text = out.getvalue()
    assert "messages  [##############################] 100% 7/7" in text
    assert "1 stale rows removed" in text


def test_reindex_of_an_empty_database_says_so(db):
    out = io.StringIO()
    call_command("reindex_search", stdout=out)
    assert "100% 0/0" in out.getvalue()


def test_reindex_while_people_post_edit_and_delete_keeps_the_index_true(room, alice, say, found):
    """The rebuild runs in batches while the room goes on: posts, edits and deletions made
    between its batches (before and after their own batch was rebuilt) all show in the index
    it leaves, and its final sweep of stale rows removes none of them."""
    messages = [say(room, alice, f"lighthouse beacon {i}") for i in range(5)]
    fresh = []

    def people_keep_working(label: str, done: int, total: int) -> None:
        if label == "messages" and done == 2:  # messages[0] and [1] rebuilt, [2:] not yet
            fresh.append(say(room, alice, "lighthouse fresh during messages"))
            editing.edit_chat_message(message=messages[0], editor=alice, content="harbour one")
            editing.edit_chat_message(message=messages[4], editor=alice, content="harbour four")
            editing.delete_chat_message(message=messages[1], deleted_by=alice)
            editing.delete_chat_message(message=messages[3], deleted_by=alice)
        if label == "tasks" and done == 0:  # every message rebuilt, the sweep still to come
            fresh.append(say(room, alice, "lighthouse fresh during tasks"))

    indexing.rebuild(batch_size=2, progress=people_keep_working)

    assert len(fresh) == 2
    assert sorted(found(alice, "lighthouse", order="newest")) == sorted(
        ("message", m.pk) for m in [messages[2], *fresh]
    )
    assert sorted(found(alice, "harbour")) == sorted(
        ("message", m.pk) for m in (messages[0], messages[4])
    )
    assert found(alice, "beacon 0") == [] and found(alice, "beacon 4") == []
    assert found(alice, "beacon", order="newest") == [("message", messages[2].pk)]


def test_reindex_after_changing_the_language_applies_it(room, alice, say, found, settings):
    """Both engines: after SEARCH_LANGUAGE changes and reindex_search runs, old and new rows
    are matched the new way ("simple": no stemming)."""
    old = say(room, alice, "Deploying the payments service")
    assert found(alice, "deploy") == [("message", old.pk)]
    settings.SEARCH_LANGUAGE = "simple"
    call_command("reindex_search", stdout=io.StringIO())
    new = say(room, alice, "Deploying the invoices service")
    assert found(alice, "deploy") == []
    assert sorted(found(alice, "deploying")) == sorted([("message", old.pk), ("message", new.pk)])
