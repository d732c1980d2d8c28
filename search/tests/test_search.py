"""Searching through /search/ as users would: each syntax element, the JSON shape, ordering and
keyset paging, snippets, and the index kept current by the services (posts, comments, tasks,
edits, deletions). Runs on SQLite FTS5 by default and on PostgreSQL with DATABASE_URL."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.db import connection
from django.utils import timezone

from kanban import services as kanban_services
from messaging.models import ChatMessage
from messaging.services import editing
from search import services as search_index
from search.models import SearchDocument
from tests.factories import ChatRoomFactory

pytestmark = pytest.mark.django_db


def message_ids(*messages):
    return [("message", m.pk) for m in messages]


# --- what a result looks like -----------------------------------------------------------


def test_a_posted_message_is_found_at_once_with_the_documented_json(
    room, alice, bob, say, search_json
):
    message = say(room, alice, "Where is the staging password rotation plan?")
    status, body = search_json(bob, "rotation")
    assert status == 200
    assert body["has_more"] is False
    assert body["next"] is None
    assert len(body["results"]) == 1
    result = body["results"][0]
    assert result["type"] == "message"
    assert result["id"] == message.pk
    assert result["room_id"] == room.pk
    assert "task_id" not in result
    assert result["author"] == "alice"
    assert result["url"] == f"/messaging/room/{room.pk}/?around={message.pk}#message-{message.pk}"
    assert "<mark>rotation</mark>" in result["snippet"]
    assert result["created_at"].endswith("Z")


def test_comments_and_tasks_are_found_with_their_task(task, alice, bob, comment_on, search_json):
    comment = comment_on(task, bob, "The release notes need a changelog")
    status, body = search_json(alice, "release")
    assert status == 200
    by_type = {r["type"]: r for r in body["results"]}
    assert by_type["comment"]["id"] == comment.pk
    assert by_type["comment"]["task_id"] == task.pk
    comment_url = f"/tasks/{task.pk}/?around={comment.pk}#comment-{comment.pk}"
    assert by_type["comment"]["url"] == comment_url
    assert by_type["task"]["id"] == task.pk
    assert by_type["task"]["url"] == f"/tasks/{task.pk}/"
    assert "room_id" not in by_type["task"]


def test_words_are_stemmed_and_case_insensitive(room, alice, say, found):
    message = say(room, alice, "Deploying the payments service")
    assert found(alice, "deploy") == message_ids(message)
    assert found(alice, "PAYMENT") == message_ids(message)


def test_all_words_must_match(room, alice, say, found):
    both = say(room, alice, "budget review tomorrow")
    say(room, alice, "budget only")
    assert found(alice, "budget review") == message_ids(both)


def test_exact_phrase(room, alice, say, found):
    phrase = say(room, alice, "the rotation plan is ready")
    say(room, alice, "plan the rotation later")
    assert found(alice, '"rotation plan"') == message_ids(phrase)
    assert len(found(alice, "rotation plan")) == 2


def test_excluded_word(room, alice, say, found):
    keep = say(room, alice, "staging deploy done")
    say(room, alice, "staging deploy failed on production")
    assert found(alice, "staging -production") == message_ids(keep)


def test_or(room, alice, say, found):
    one = say(room, alice, "kiwi smoothie")
    two = say(room, alice, "mango smoothie")
    say(room, alice, "banana smoothie")
    assert sorted(found(alice, "kiwi OR mango")) == sorted(message_ids(one, two))
    assert sorted(found(alice, "smoothie kiwi OR mango")) == sorted(message_ids(one, two))


def test_from(room, alice, bob, say, found):
    say(room, alice, "lunch order")
    mine = say(room, bob, "lunch order too")
    assert found(alice, "lunch from:@bob") == message_ids(mine)
    assert found(alice, "from:bob") == message_ids(mine)
    assert found(alice, "lunch from:@nobody") == []


def test_in_room(board, room, alice, bob, say, found):
    other = ChatRoomFactory(board=board, name="random", created_by=alice, members=[bob])
    here = say(room, alice, "coffee machine broken")
    say(other, alice, "coffee machine fixed")
    assert found(alice, "coffee in:#general") == message_ids(here)
    assert found(alice, "in:general") == message_ids(here)


def test_in_a_room_i_cannot_read_says_so_and_finds_nothing(room, alice, carol, say, search_json):
    say(room, alice, "secret coffee")
    status, body = search_json(carol, "coffee in:#general")
    assert status == 200
    assert body["results"] == []
    assert body["notes"] == ["None of your rooms is called #general."]


def test_board_filter(alice, bob, room, task, say, comment_on, found):
    side = kanban_services.create_board(name="Side", created_by=alice)
    side_column = side.columns.first()
    side_task = kanban_services.create_task(
        column=side_column, title="Invoice vendors", created_by=alice
    )
    message = say(room, alice, "invoice sent")
    comment = comment_on(task, alice, "invoice attached")
    assert sorted(found(alice, "invoice board:Launch")) == sorted(
        [("message", message.pk), ("comment", comment.pk)]
    )
    assert found(alice, "invoice board:side") == [("task", side_task.pk)]


def test_has_attachment_matches_only_items_with_attachments(room, alice, say, found):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.services import attachments as attachment_service
    from messaging.services.posting import post_chat_message

    plain = say(room, alice, "screenshot of the bug")
    upload = attachment_service.create_attachment(
        upload=SimpleUploadedFile("notes.txt", b"steps to reproduce", "text/plain"),
        uploader=alice,
        organization_id=room.board.organization_id,
    )
    with_file = post_chat_message(
        room=room, author=alice, content="screenshot attached", attachment_ids=[upload.pk]
    )
    assert found(alice, "screenshot has:attachment") == message_ids(with_file)
    assert found(alice, "has:attachment") == message_ids(with_file)
    assert ("message", plain.pk) in found(alice, "screenshot")


def _backdate(message, when):
    ChatMessage.objects.filter(pk=message.pk).update(created_at=when)
    message.refresh_from_db()
    search_index.index_message(message)


def test_before_and_after(room, alice, say, found):
    tz = timezone.get_current_timezone()
    october = say(room, alice, "report october")
    november = say(room, alice, "report november")
    december = say(room, alice, "report december")
    _backdate(october, datetime.datetime(2026, 10, 31, 23, 59, tzinfo=tz))
    _backdate(november, datetime.datetime(2026, 11, 1, 0, 0, tzinfo=tz))
    _backdate(december, datetime.datetime(2026, 12, 1, 0, 0, tzinfo=tz))
    assert found(alice, "report after:2026-11-01 before:2026-12-01") == message_ids(november)
    assert found(alice, "report before:2026-11-01") == message_ids(october)
    assert sorted(found(alice, "after:2026-11-01")) == sorted(message_ids(november, december))


def test_is_mention_finds_messages_and_comments_mentioning_me(
    room, task, alice, bob, carol, say, comment_on, found
):
    to_bob = say(room, alice, "@bob can you review")
    say(room, alice, "no mention here, review later")
    comment = comment_on(task, alice, "@bob and @carol review please")
    assert sorted(found(bob, "is:mention")) == sorted(
        [("message", to_bob.pk), ("comment", comment.pk)]
    )
    assert found(carol, "is:mention") == [("comment", comment.pk)]
    assert found(alice, "is:mention") == []


@pytest.mark.parametrize(
    ("q", "message_part"),
    [
        ("colour:red", "Unknown filter"),
        ("before:tomorrow", "YYYY-MM-DD"),
        ("-alone", "only excludes"),
    ],
)
def test_a_query_to_rephrase_is_a_400_with_the_reason(
    alice, search_json, client_for, q, message_part
):
    status, body = search_json(alice, q)
    assert status == 400
    assert message_part in body["error"]
    page = client_for(alice).get("/search/", {"q": q})
    assert page.status_code == 400
    assert message_part in page.content.decode()


@pytest.mark.parametrize(
    "params",
    [{"order": "sideways"}, {"type": "file"}, {"cursor": "not-a-cursor"}, {"cursor": "e30"}],
)
def test_bad_parameters_are_400s(room, alice, say, search_json, params):
    say(room, alice, "anything")
    status, body = search_json(alice, "anything", **params)
    assert status == 400
    assert body["error"]


def test_an_empty_query_finds_nothing_and_the_page_explains_the_syntax(
    alice, search_json, client_for
):
    empty = {"results": [], "has_more": False, "next": None, "notes": []}
    assert search_json(alice, "") == (200, empty)
    page = client_for(alice).get("/search/")
    assert page.status_code == 200
    assert "in:#general" in page.content.decode()


# --- order and paging -------------------------------------------------------------------


def test_relevance_and_newest_orders(room, alice, say, found):
    strong = say(room, alice, "outage outage outage postmortem")
    weak = say(room, alice, "outage noted, plus a long message about many other things entirely")
    assert found(alice, "outage", order="relevance") == message_ids(strong, weak)
    assert found(alice, "outage", order="newest") == message_ids(weak, strong)
    # Words default to relevance; a filter-only query is newest first.
    assert found(alice, "outage") == message_ids(strong, weak)
    assert found(alice, "from:@alice") == message_ids(weak, strong)


@pytest.mark.parametrize("order", ["relevance", "newest"])
def test_keyset_pages_cover_every_result_once(room, alice, say, client_for, order, settings):
    settings.SEARCH_PAGE_SIZE = 4
    posted = {say(room, alice, f"standup note {'extra ' * (i % 3)}{i}").pk for i in range(10)}
    client = client_for(alice)
    seen, url, pages = [], f"/search/?q=standup&order={order}", 0
    while url:
        body = client.get(url, HTTP_ACCEPT="application/json").json()
        seen += [r["id"] for r in body["results"]]
        assert body["has_more"] == (body["next"] is not None)
        url, pages = body["next"], pages + 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 10
    assert set(seen) == posted


def test_a_page_link_keeps_working_while_new_messages_arrive(
    room, alice, say, client_for, settings
):
    settings.SEARCH_PAGE_SIZE = 2
    old = [say(room, alice, f"retro item {i}") for i in range(4)]
    client = client_for(alice)
    first = client.get("/search/?q=retro&order=newest", HTTP_ACCEPT="application/json").json()
    say(room, alice, "retro item new")
    second = client.get(first["next"], HTTP_ACCEPT="application/json").json()
    assert [r["id"] for r in first["results"] + second["results"]] == [m.pk for m in reversed(old)]


# --- snippets ---------------------------------------------------------------------------


def test_snippets_escape_user_text_and_mark_only_matches(room, alice, say, search_json):
    say(room, alice, '<script>alert("x")</script> <b>rotation</b> & more \ue000sneaky\ue001')
    _, body = search_json(alice, "rotation")
    snippet = body["results"][0]["snippet"]
    assert "<script" not in snippet and "<b>" not in snippet
    assert "alert(&quot;x&quot;)" in snippet
    assert "&lt;b&gt;<mark>rotation</mark>&lt;/b&gt;" in snippet
    assert snippet.count("<mark>") == 1


def test_the_page_groups_results_and_links_to_each(room, task, alice, say, comment_on, client_for):
    message = say(room, alice, "quarterly roadmap draft")
    comment = comment_on(task, alice, "roadmap looks fine")
    kanban_services.update_task(
        task=task,
        title="Roadmap review",
        description="",
        assignee=None,
        priority="medium",
        due_date=None,
        updated_by=alice,
    )
    page = client_for(alice).get("/search/", {"q": "roadmap"})
    html = page.content.decode()
    assert page.status_code == 200
    messages_at = html.index('id="results-messages"')
    comments_at = html.index('id="results-comments"')
    tasks_at = html.index('id="results-tasks"')
    assert messages_at < comments_at < tasks_at
    assert f"?around={message.pk}#message-{message.pk}" in html[messages_at:comments_at]
    assert f"?around={comment.pk}#comment-{comment.pk}" in html[comments_at:tasks_at]
    assert f'href="/tasks/{task.pk}/"' in html[tasks_at:]
    assert "<mark>roadmap</mark>" in html


def test_the_page_runs_a_bounded_number_of_queries(
    room, task, alice, say, comment_on, client_for, django_assert_max_num_queries
):
    for i in range(8):
        say(room, alice, f"metrics {i}")
        comment_on(task, alice, f"metrics comment {i}")
    client = client_for(alice)
    with django_assert_max_num_queries(25):
        response = client.get("/search/", {"q": "metrics"})
    assert response.status_code == 200


# --- the index follows every change -----------------------------------------------------


def test_an_edited_message_is_found_by_its_new_words_only(room, alice, say, found):
    message = say(room, alice, "meet at the pier")
    editing.edit_chat_message(message=message, editor=alice, content="meet at the harbour")
    assert found(alice, "harbour") == message_ids(message)
    assert found(alice, "pier") == []


def test_a_deleted_message_never_appears(room, alice, say, found):
    hard = say(room, alice, "typo message one")
    soft = say(room, alice, "typo message two")
    hard.delete()  # a hard delete (a whole room or board going) cascades to the index row
    editing.delete_chat_message(message=soft, deleted_by=alice)  # the app's soft delete
    assert found(alice, "typo") == []


def test_an_edited_or_deleted_comment_follows_in_the_index(task, alice, comment_on, found):
    kept = comment_on(task, alice, "rotate the staging keys")
    gone = comment_on(task, alice, "rotate the backup tapes")
    editing.edit_task_comment(comment=kept, editor=alice, content="rotate the signing keys")
    editing.delete_task_comment(comment=gone, deleted_by=alice)
    assert found(alice, "signing") == [("comment", kept.pk)]
    assert found(alice, "staging") == []
    assert found(alice, "tapes") == []


def test_tasks_are_indexed_on_create_and_update_and_leave_on_delete(column, alice, found):
    task = kanban_services.create_task(
        column=column, title="Renew certificate", description="before it expires", created_by=alice
    )
    assert found(alice, "expires") == [("task", task.pk)]
    kanban_services.update_task(
        task=task,
        title="Renew domain",
        description="",
        assignee=None,
        priority="high",
        due_date=None,
        updated_by=alice,
    )
    assert found(alice, "domain") == [("task", task.pk)]
    assert found(alice, "certificate") == []
    kanban_services.delete_task(task=task, deleted_by=alice)
    assert found(alice, "domain") == []


def test_deleting_a_board_takes_its_rows_out_of_the_index(
    board, room, task, alice, say, comment_on
):
    say(room, alice, "gone soon")
    comment_on(task, alice, "gone soon too")
    kanban_services.delete_board(board=board, deleted_by=alice)
    assert not SearchDocument.objects.exists()


def test_a_rolled_back_post_leaves_nothing_in_the_index(room, alice, found):
    from django.db import transaction

    from messaging.services.posting import post_chat_message

    with pytest.raises(RuntimeError), transaction.atomic():
        post_chat_message(room=room, author=alice, content="phantom words")
        raise RuntimeError
    assert found(alice, "phantom") == []


def test_the_engine_in_use(db):
    """Which engine this run exercised (the suite runs once per engine)."""
    assert connection.vendor in ("sqlite", "postgresql")


def test_the_page_pages_one_kind_with_next_links(room, alice, say, client_for, settings):
    settings.SEARCH_PAGE_SIZE = 3
    posted = [say(room, alice, f"lantern {i}") for i in range(5)]
    client = client_for(alice)
    overview = client.get("/search/", {"q": "lantern"}).content.decode()
    assert overview.count('class="list-group-item search-result"') == 5  # groups show 5
    first = client.get("/search/", {"q": "lantern", "type": "message", "order": "newest"})
    html = first.content.decode()
    assert html.count('class="list-group-item search-result"') == 3
    assert f'data-id="{posted[-1].pk}"' in html
    next_url = re.search(r'href="([^"]+)">Next page', html).group(1).replace("&amp;", "&")
    second = client.get(next_url).content.decode()
    assert second.count('class="list-group-item search-result"') == 2
    assert f'data-id="{posted[0].pk}"' in second
    assert "Next page" not in second


def test_the_page_toggles_between_most_relevant_and_newest(room, alice, say, client_for):
    strong = say(room, alice, "outage outage outage postmortem")
    weak = say(room, alice, "outage noted, plus a long message about many other things entirely")
    client = client_for(alice)

    def order_of(html: str) -> list[int]:
        return [
            int(i)
            for i in re.findall(r'class="list-group-item search-result"[^>]*data-id="(\d+)"', html)
        ]

    relevant = client.get("/search/", {"q": "outage"}).content.decode()
    assert '<strong aria-current="true">Most relevant</strong>' in relevant
    assert order_of(relevant) == [strong.pk, weak.pk]
    newest_url = re.search(r'<a href="([^"]+)">Newest</a>', relevant).group(1).replace("&amp;", "&")
    newest = client.get(newest_url).content.decode()
    assert '<strong aria-current="true">Newest</strong>' in newest
    assert order_of(newest) == [weak.pk, strong.pk]
    back = re.search(r'<a href="([^"]+)">Most relevant</a>', newest).group(1).replace("&amp;", "&")
    assert order_of(client.get(back).content.decode()) == [strong.pk, weak.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL: each row keeps the configuration it was indexed with until "
    "reindex_search (SQLite's FTS5 tokenizer is one for the whole table; test_reindex covers it)",
)
def test_the_language_configuration_is_a_setting(room, alice, say, found, settings):
    """SEARCH_LANGUAGE configures new index rows and every query; reindex_search re-writes the
    rows indexed before a change."""
    from django.core.management import call_command

    stemmed = say(room, alice, "Deploying the payments service")
    assert found(alice, "deploy") == message_ids(stemmed)
    settings.SEARCH_LANGUAGE = "simple"  # no stemming, no stop words
    literal = say(room, alice, "Deploying the invoices service")
    assert found(alice, "deploy") == message_ids(stemmed)  # only the row indexed in english
    assert found(alice, "deploying invoices") == message_ids(literal)
    assert found(alice, "the invoices") == message_ids(literal)  # "the" is a word in simple
    call_command("reindex_search", stdout=io.StringIO())
    assert found(alice, "deploy") == []
    assert sorted(found(alice, "deploying")) == sorted(message_ids(stemmed, literal))
