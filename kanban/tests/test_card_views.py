"""The live board's HTTP endpoints: board state, labels, a task's labels, checklists, the card
menu's move with `next`, and filters in the URL. One test per access rule; bad input is a
4xx with a message."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from kanban import cards, services
from kanban.models import ChecklistItem, Label, TaskActivity
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def bob_c(client_for, bob):
    return client_for(bob)


@pytest.fixture
def carol_c(client_for, carol):
    return client_for(carol)


@pytest.fixture
def task(todo):
    return TaskFactory(column=todo, title="Write tests", position=0)


@pytest.fixture
def bug(board, alice) -> Label:
    return cards.create_label(board=board, name="Bug", colour="red", created_by=alice)


# --- board state ------------------------------------------------------------------------


def test_board_state_lists_columns_cards_labels_members_and_version(bob_c, board, todo, task, bug):
    services.set_task_labels(task=task, labels=[bug], changed_by=board.created_by)
    response = bob_c.get(reverse("kanban:board_state", args=[board.pk]))

    assert response.status_code == 200
    state = response.json()
    board.refresh_from_db()
    assert state["version"] == board.version
    assert [c["name"] for c in state["columns"]] == ["To Do", "In Progress", "Done"]
    assert state["columns"][0]["task_ids"] == [task.pk]
    assert state["tasks"][0]["title"] == "Write tests"
    assert state["tasks"][0]["labels"] == [{"id": bug.pk, "name": "Bug", "colour": "red"}]
    assert state["labels"] == [{"id": bug.pk, "name": "Bug", "colour": "red"}]
    assert [m["username"] for m in state["members"]] == ["alice", "bob"]


def test_board_state_with_a_task_adds_its_checklist_and_activity(bob_c, board, task, bob):
    cards.add_checklist_item(task=task, text="one", added_by=bob)
    response = bob_c.get(reverse("kanban:board_state", args=[board.pk]), {"task": task.pk})
    detail = response.json()["task_detail"]
    assert detail["checklist"][0]["text"] == "one"


def test_board_state_refuses_a_task_of_another_board(bob_c, board, alice):
    other = services.create_board(name="Other", created_by=alice)
    foreign = TaskFactory(column=other.columns.first())
    url = reverse("kanban:board_state", args=[board.pk])
    assert bob_c.get(url, {"task": foreign.pk}).status_code == 404
    assert bob_c.get(url, {"task": "x"}).status_code == 400


def test_board_state_non_member_gets_404(carol_c, board):
    assert carol_c.get(reverse("kanban:board_state", args=[board.pk])).status_code == 404


def test_board_state_query_count_is_constant(
    bob_c, board, todo, bob, bug, django_assert_max_num_queries
):
    for _ in range(10):
        task = TaskFactory(column=todo, assignee=bob)
        task.labels.add(bug)
    with django_assert_max_num_queries(9):
        assert bob_c.get(reverse("kanban:board_state", args=[board.pk])).status_code == 200


# --- labels -----------------------------------------------------------------------------


def test_member_creates_a_label(bob_c, board):
    response = bob_c.post(
        reverse("kanban:board_labels", args=[board.pk]), {"name": "Design", "colour": "blue"}
    )
    assert response.status_code == 302
    assert list(board.labels.values_list("name", "colour")) == [("Design", "blue")]


def test_label_colour_must_come_from_the_palette(bob_c, board):
    response = bob_c.post(
        reverse("kanban:board_labels", args=[board.pk]),
        {"name": "Design", "colour": "#ff00ff"},
        **JSON,
    )
    assert response.status_code == 400
    assert "Colour" in response.json()["error"]
    assert not board.labels.exists()


def test_duplicate_label_name_is_refused_with_a_message(bob_c, board, bug):
    response = bob_c.post(
        reverse("kanban:board_labels", args=[board.pk]), {"name": "bug", "colour": "red"}, **JSON
    )
    assert response.status_code == 400
    assert response.json() == {"error": "This board already has a label named “bug”."}


def test_label_edit_and_delete(bob_c, bug):
    bob_c.post(reverse("kanban:label_edit", args=[bug.pk]), {"name": "Defect", "colour": "orange"})
    bug.refresh_from_db()
    assert (bug.name, bug.colour) == ("Defect", "orange")
    bob_c.post(reverse("kanban:label_delete", args=[bug.pk]))
    assert not Label.objects.exists()


def test_labels_of_another_board_are_404(carol_c, bug):
    assert carol_c.post(reverse("kanban:label_delete", args=[bug.pk])).status_code == 404
    assert Label.objects.exists()


def test_set_task_labels_records_activity(bob_c, task, bug):
    response = bob_c.post(
        reverse("kanban:task_labels", args=[task.pk]), {"labels": [bug.pk]}, **JSON
    )
    assert response.json() == {"ok": True}
    assert list(task.labels.all()) == [bug]
    entry = task.activities.get()
    assert (entry.kind, entry.data) == ("labels", {"added": ["Bug"], "removed": []})


def test_a_label_of_another_board_cannot_go_on_a_task(bob_c, task, alice):
    other = services.create_board(name="Other", created_by=alice)
    foreign = cards.create_label(board=other, name="X", colour="grey", created_by=alice)
    response = bob_c.post(
        reverse("kanban:task_labels", args=[task.pk]), {"labels": [foreign.pk]}, **JSON
    )
    assert response.status_code == 400
    assert not task.labels.exists()


# --- checklists -------------------------------------------------------------------------


def test_checklist_add_toggle_move_delete(bob_c, task):
    add = reverse("kanban:checklist_add", args=[task.pk])
    bob_c.post(add, {"text": "one"})
    bob_c.post(add, {"text": "two"})
    one, two = task.checklist_items.order_by("position")

    bob_c.post(reverse("kanban:checklist_done", args=[one.pk]), {"done": "true"})
    bob_c.post(reverse("kanban:checklist_move", args=[two.pk]), {"position": "0"})
    items = list(task.checklist_items.order_by("position").values_list("text", "done", "position"))
    assert items == [("two", False, 0), ("one", True, 1)]

    bob_c.post(reverse("kanban:checklist_delete", args=[two.pk]))
    assert list(task.checklist_items.values_list("text", "position")) == [("one", 0)]


def test_checklist_bad_input_is_a_400_with_a_message(bob_c, task):
    response = bob_c.post(reverse("kanban:checklist_add", args=[task.pk]), {"text": " "}, **JSON)
    assert response.status_code == 400
    assert "error" in response.json()
    item = cards.add_checklist_item(task=task, text="one", added_by=task.created_by)
    response = bob_c.post(
        reverse("kanban:checklist_move", args=[item.pk]), {"position": "-1"}, **JSON
    )
    assert response.status_code == 400


def test_checklist_of_another_board_is_404(carol_c, task):
    item = cards.add_checklist_item(task=task, text="one", added_by=task.created_by)
    assert (
        carol_c.post(reverse("kanban:checklist_done", args=[item.pk]), {"done": "true"}).status_code
        == 404
    )
    assert (
        carol_c.post(reverse("kanban:checklist_add", args=[task.pk]), {"text": "x"}).status_code
        == 404
    )
    assert ChecklistItem.objects.get().done is False


def test_card_shows_checklist_progress(bob_c, board, task):
    for text in ("a", "b", "c"):
        cards.add_checklist_item(task=task, text=text, added_by=task.created_by)
    cards.set_checklist_item_done(
        item=task.checklist_items.first(), done=True, changed_by=task.created_by
    )
    html = bob_c.get(board.get_absolute_url()).content.decode()
    assert '<span class="task-checklist-count">1/3</span>' in html


# --- task page: activity, move menu ---------------------------------------------------


def test_task_page_lists_activity_newest_first(bob_c, board, todo, doing, bob):
    task = services.create_task(column=todo, title="Draft", created_by=bob)
    services.move_task(task=task, to_column=doing, position=0, moved_by=bob)
    html = bob_c.get(task.get_absolute_url()).content.decode()
    moved = html.index("moved this from To Do to In Progress")
    created = html.index("created this in To Do")
    assert moved < created
    assert TaskActivity.objects.filter(task=task).count() == 2


def test_card_menu_move_returns_to_the_board(bob_c, board, todo, doing, task):
    response = bob_c.post(
        reverse("kanban:task_move", args=[task.pk]),
        {"column": doing.pk, "position": "0", "next": f"/boards/{board.pk}/?assignee=me"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/boards/{board.pk}/?assignee=me"
    task.refresh_from_db()
    assert task.column == doing


def test_move_next_to_another_site_is_ignored(bob_c, doing, task):
    response = bob_c.post(
        reverse("kanban:task_move", args=[task.pk]),
        {"column": doing.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == task.get_absolute_url()


# --- filters ----------------------------------------------------------------------------


CARD = re.compile(
    r'<div class="task-card[^"]*" data-task-id="[1-9]\d*" id="task-\d+"( hidden)?>'
    r'\s*<div class="task-labels">.*?</div>\s*<a class="task-title[^>]*>([^<]*)</a>',
    re.S,
)


def shown(client, board, **params) -> list[str]:
    """Titles of the cards the board page renders visible."""
    html = client.get(board.get_absolute_url(), params).content.decode()
    return sorted(title for hidden, title in CARD.findall(html) if not hidden)


def test_filters_in_the_url_hide_cards_that_do_not_match(bob_c, board, todo, bob, alice, bug):
    today = datetime.date.today()
    mine = TaskFactory(column=todo, title="Mine", assignee=bob)
    TaskFactory(column=todo, title="Alices", assignee=alice, due_date=today - datetime.timedelta(2))
    TaskFactory(column=todo, title="Launch post", due_date=today)
    mine.labels.add(bug)

    assert shown(bob_c, board) == ["Alices", "Launch post", "Mine"]
    assert shown(bob_c, board, assignee="me") == ["Mine"]
    assert shown(bob_c, board, assignee="none") == ["Launch post"]
    assert shown(bob_c, board, label=bug.pk) == ["Mine"]
    assert shown(bob_c, board, due="overdue") == ["Alices"]
    assert shown(bob_c, board, due="week") == ["Launch post"]
    assert shown(bob_c, board, q="LAUNCH") == ["Launch post"]
    assert shown(bob_c, board, assignee="nonsense") == ["Alices", "Launch post", "Mine"]
