"""HTTP interface of the kanban app. Each view: access selector (404 for missing and not-yours
alike) -> form -> one service -> render or redirect. A service's ValidationError is shown to
the user, in the form or as a flash message; it is never a 500."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from kanban_board.forms import errors_text
from messaging.services.notifications import mark_read_for_task

from . import access, selectors, services
from . import realtime as board_realtime
from .filters import DUE_CHOICES, CardFilter, matches
from .forms import (
    AddMemberForm,
    BoardCreateForm,
    BoardForm,
    ColumnForm,
    ColumnMoveForm,
    TaskForm,
    TaskMoveForm,
)
from .models import Board, Label

# The card <template> static/js/board.js clones for a card that arrives live.
BLANK_CARD = {"id": 0, "title": "", "priority": "medium", "labels": [], "checklist": {}}

# A position past the end; move_task clamps it to "last".
_BOTTOM = 2**31 - 1


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_errors_text(form: Form) -> str:
    return errors_text(form)


def back_to(request: HttpRequest, fallback) -> HttpResponse:
    """Redirect to the form's `next` when it is a path on this site, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or "application/json" in (
        request.headers.get("Accept", "")
    )


# --- boards -----------------------------------------------------------------------------


@require_http_methods(["GET"])
def board_list(request: HttpRequest) -> HttpResponse:
    """My boards, grouped by organization (the template regroups the ordered list)."""
    boards = selectors.board_summaries_for(request.user)
    return render(request, "kanban/board_list.html", {"boards": boards})


@require_http_methods(["GET", "POST"])
def board_create(request: HttpRequest) -> HttpResponse:
    form = BoardCreateForm(request.POST or None, user=request.user)
    if request.method == "GET":
        chosen = form.fields["organization"].queryset.filter(
            slug=request.GET.get("organization", "")
        )
        form.initial["organization"] = chosen.first()
    if request.method == "POST" and form.is_valid():
        try:
            board = services.create_board(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                created_by=request.user,
                organization=form.cleaned_data["organization"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Board “{board.name}” created.")
            return redirect(board)
    return render(request, "kanban/board_form.html", {"form": form, "board": None})


@require_http_methods(["GET"])
def board_detail(request: HttpRequest, board_id: int) -> HttpResponse:
    """The board, live: the page embeds the state it rendered (with its version) for
    static/js/board.js, which applies the board socket's frames on top. Filters come from the
    query string (kanban.filters) and hide the cards that do not match."""
    board = selectors.get_board_for(request.user, board_id)
    state = selectors.board_state(board)
    card_filter = CardFilter.from_query(request.GET)
    today = timezone.localdate()
    cards = {
        card["id"]: {
            **card,
            "hidden": card_filter.active
            and not matches(card, card_filter, user_id=request.user.pk, today=today),
        }
        for card in state["tasks"]
    }
    columns = [
        {**column, "cards": [cards[task_id] for task_id in column["task_ids"]]}
        for column in state["columns"]
    ]
    return render(
        request,
        "kanban/board_detail.html",
        {
            "board": board,
            "columns": columns,
            "state": state,
            "filter": card_filter,
            "due_choices": DUE_CHOICES,
            "shown_count": sum(not card["hidden"] for card in cards.values()),
            "today": today.isoformat(),
            "is_creator": access.can_manage_board(request.user, board),
            "blank_column": {"id": 0, "name": "", "cards": []},
            "blank_card": BLANK_CARD,
        },
    )


@require_http_methods(["GET", "POST"])
def board_edit(request: HttpRequest, board_id: int) -> HttpResponse:
    board = selectors.get_board_for(request.user, board_id)
    form = BoardForm(request.POST or None, instance=board)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_board(
                board=board,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                updated_by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Board saved.")
            return redirect(board)
    return render(
        request,
        "kanban/board_form.html",
        {"form": form, "board": board, "can_manage": access.can_manage_board(request.user, board)},
    )


@require_http_methods(["GET", "POST"])
def board_delete(request: HttpRequest, board_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    board = selectors.get_board_for(request.user, board_id)
    if request.method == "POST":
        try:
            services.delete_board(board=board, deleted_by=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return redirect(board)
        messages.success(request, f"Board “{board.name}” deleted.")
        return redirect("kanban:board_list")
    return render(
        request,
        "kanban/confirm_delete.html",
        {
            "object_label": f"the board “{board.name}” with all its columns, tasks and chat rooms",
            "cancel_url": board.get_absolute_url(),
        },
    )


# --- members ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def board_members(request: HttpRequest, board_id: int) -> HttpResponse:
    """GET lists the members; POST adds one by username (creator only)."""
    board = selectors.get_board_for(request.user, board_id)
    form = AddMemberForm(request.POST or None)
    status = 200
    can_manage = access.can_manage_board(request.user, board)
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.add_member(
                    board=board, username=form.cleaned_data["username"], added_by=request.user
                )
            except ValidationError as error:
                form.add_error("username", error)
            else:
                messages.success(request, f"{user.get_display_name()} can now see this board.")
                return redirect("kanban:board_members", board_id=board.pk)
        status = 400
    return render(
        request,
        "kanban/board_members.html",
        {
            "board": board,
            "members": selectors.board_members(board),
            "addable": selectors.addable_board_members(board),
            "form": form,
            "is_creator": can_manage,
            "removed": _just_removed(request, board) if can_manage else None,
        },
        status=status,
    )


def _just_removed(request: HttpRequest, board: Board) -> User | None:
    """`?removed=<id>` after a removal: that person, while they can still be added back."""
    removed = request.GET.get("removed", "")
    if request.method != "GET" or not removed.isascii() or not removed.isdecimal():
        return None
    return selectors.addable_board_members(board).filter(pk=int(removed)).first()


@require_POST
def member_remove(request: HttpRequest, board_id: int, user_id: int) -> HttpResponse:
    board = selectors.get_board_for(request.user, board_id)
    member = get_object_or_404(selectors.board_members(board), pk=user_id)
    try:
        services.remove_member(board=board, user=member, removed_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        # The members page offers to add them back (one click, the same add service).
        url = reverse("kanban:board_members", args=[board.pk])
        return redirect(f"{url}?removed={member.pk}")
    return redirect("kanban:board_members", board_id=board.pk)


# --- columns ----------------------------------------------------------------------------


@require_POST
def column_create(request: HttpRequest, board_id: int) -> HttpResponse:
    board = selectors.get_board_for(request.user, board_id)
    form = ColumnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors_text(form))
        return redirect(board)
    try:
        services.create_column(board=board, name=form.cleaned_data["name"], created_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect(board)


@require_POST
def column_rename(request: HttpRequest, column_id: int) -> HttpResponse:
    column = selectors.get_column_for(request.user, column_id)
    form = ColumnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors_text(form))
        return redirect(column.board)
    try:
        services.rename_column(
            column=column, name=form.cleaned_data["name"], renamed_by=request.user
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect(column.board)


@require_POST
def column_move(request: HttpRequest, column_id: int) -> HttpResponse:
    column = selectors.get_column_for(request.user, column_id)
    form = ColumnMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors_text(form))
        return redirect(column.board)
    try:
        services.move_column(
            column=column,
            position=form.target_position(column.position),
            moved_by=request.user,
        )
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect(column.board)


@require_POST
def column_delete(request: HttpRequest, column_id: int) -> HttpResponse:
    column = selectors.get_column_for(request.user, column_id)
    try:
        services.delete_column(column=column, deleted_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"Column “{column.name}” deleted.")
    return redirect(column.board)


# --- tasks ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def task_create(request: HttpRequest, column_id: int) -> HttpResponse:
    column = selectors.get_column_for(request.user, column_id)
    board = column.board
    form = TaskForm(request.POST or None, board=board)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.create_task(
                column=column,
                title=data["title"],
                description=data["description"],
                assignee=data["assignee"],
                priority=data["priority"],
                due_date=data["due_date"],
                labels=data["labels"],
                created_by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect(board)
    return render(
        request,
        "kanban/task_form.html",
        {"form": form, "board": board, "column": column, "task": None},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET"])
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.get_task_for(request.user, task_id)
    board = task.column.board
    mark_read_for_task(user=request.user, task=task)  # the page shows the comment thread
    version = selectors.board_state_version(board)
    card_task = selectors.task_cards().filter(pk=task.pk).first()
    if card_task is None:  # deleted since it was read just above
        raise Http404("No such task.")
    card = board_realtime.card(card_task)
    return render(
        request,
        "kanban/task_detail.html",
        {
            "task": task,
            "card": card,
            "version": version,
            "board": board,
            "columns": board.columns.order_by("position", "pk"),
            "labels": selectors.board_labels(board),
            "task_label_ids": {label["id"] for label in card["labels"]},
            "checklist": selectors.checklist_items(task),
            "activity": selectors.task_activity(task),
            "colours": Label.Colour.choices,
        },
    )


@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.get_task_for(request.user, task_id)
    board = task.column.board
    form = TaskForm(request.POST or None, instance=task, board=board)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_task(
                task=task,
                title=data["title"],
                description=data["description"],
                assignee=data["assignee"],
                priority=data["priority"],
                due_date=data["due_date"],
                labels=data["labels"],
                updated_by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Task saved.")
            return redirect(task)
    return render(
        request,
        "kanban/task_form.html",
        {"form": form, "board": board, "column": task.column, "task": task},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def task_delete(request: HttpRequest, task_id: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    task = selectors.get_task_for(request.user, task_id)
    board = task.column.board
    if request.method == "POST":
        try:
            services.delete_task(task=task, deleted_by=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
            return redirect(task)
        messages.success(request, f"Task “{task.title}” deleted.")
        return redirect(board)
    return render(
        request,
        "kanban/confirm_delete.html",
        {
            "object_label": f"the task “{task.title}” and its comments",
            "cancel_url": task.get_absolute_url(),
        },
    )


@require_POST
def task_move(request: HttpRequest, task_id: int) -> HttpResponse:
    """Drop a task into a column at a position. fetch() callers get JSON ({"ok": true, ...} or
    {"error": ...} with a 4xx status); a plain form post redirects back to the task."""
    task = selectors.get_task_for(request.user, task_id)
    form = TaskMoveForm(request.POST)
    wants_json = _wants_json(request)
    if not form.is_valid():
        error = _form_errors_text(form)
        if wants_json:
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return back_to(request, task)
    to_column = selectors.get_column_for(request.user, form.cleaned_data["column"])
    position = form.cleaned_data["position"]
    try:
        task = services.move_task(
            task=task,
            to_column=to_column,
            position=position if position is not None else _BOTTOM,
            moved_by=request.user,
        )
    except ValidationError as error:
        if wants_json:
            return JsonResponse({"error": _error_text(error)}, status=400)
        messages.error(request, _error_text(error))
        return back_to(request, task)
    if wants_json:
        return JsonResponse(
            {
                "ok": True,
                "task_id": task.pk,
                "column_id": task.column_id,
                "position": task.position,
            }
        )
    messages.success(request, f"Moved to “{to_column.name}”.")
    return back_to(request, task)
