"""`manage.py reindex_search` rebuilds the index from the data, whatever state it was in."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from search import engine
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
