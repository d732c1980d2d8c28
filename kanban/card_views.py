"""HTTP interface for the live board's data: the board state a client fetches after a
version gap, labels, a task's labels, and checklists. Same shape as kanban.views: access
selector (404 for missing and not-yours alike) -> form -> one service. fetch() callers get
JSON (`{"ok": true, ...}` or `{"error"}` with a 4xx); a plain form post is redirected back to
`next` (a same-site path) or the task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import cards, selectors
from .forms import ChecklistDoneForm, ChecklistItemForm, LabelForm, PositionForm, TaskLabelsForm
from .views import _error_text, _form_errors_text, _wants_json, back_to


def run_form(
    request: HttpRequest,
    form: Form,
    action: Callable[[dict[str, Any]], Any],
    *,
    fallback: str,
    done: str = "",
) -> HttpResponse:
    """Validate `form`, call the one service in `action`, and answer JSON or redirect."""
    wants_json = _wants_json(request)
    if not form.is_valid():
        error = _form_errors_text(form)
        if wants_json:
            return JsonResponse({"error": error}, status=400)
        messages.error(request, error)
        return back_to(request, fallback)
    try:
        action(form.cleaned_data)
    except ValidationError as error:
        if wants_json:
            return JsonResponse({"error": _error_text(error)}, status=400)
        messages.error(request, _error_text(error))
        return back_to(request, fallback)
    if wants_json:
        return JsonResponse({"ok": True})
    if done:
        messages.success(request, done)
    return back_to(request, fallback)


# --- board state ------------------------------------------------------------------------


@require_http_methods(["GET"])
def board_state(request: HttpRequest, board_id: int) -> HttpResponse:
    """The board page's data as JSON, with the version it is at least as new as. With
    ?task=<id> (the task page) it adds that task's checklist and activity."""
    board = selectors.get_board_for(request.user, board_id)
    state = selectors.board_state(board)
    task_id = request.GET.get("task", "")
    if task_id:
        if not task_id.isdigit():
            return JsonResponse({"error": "task must be a task id."}, status=400)
        task = selectors.get_task_for(request.user, int(task_id))
        if task.column.board_id != board.pk:
            raise Http404("No such task on this board.")
        state["task_detail"] = selectors.task_detail_state(task)
    return JsonResponse(state)


# --- labels -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def board_labels(request: HttpRequest, board_id: int) -> HttpResponse:
    """GET lists the board's labels with their forms; POST creates one."""
    board = selectors.get_board_for(request.user, board_id)
    if request.method == "POST":
        return run_form(
            request,
            LabelForm(request.POST),
            lambda data: cards.create_label(
                board=board, name=data["name"], colour=data["colour"], created_by=request.user
            ),
            fallback=request.path,
            done="Label added.",
        )
    return render(
        request,
        "kanban/board_labels.html",
        {"board": board, "labels": selectors.board_labels(board), "form": LabelForm()},
    )


@require_POST
def label_edit(request: HttpRequest, label_id: int) -> HttpResponse:
    label = selectors.get_label_for(request.user, label_id)
    return run_form(
        request,
        LabelForm(request.POST),
        lambda data: cards.update_label(
            label=label, name=data["name"], colour=data["colour"], updated_by=request.user
        ),
        fallback=reverse("kanban:board_labels", args=[label.board_id]),
        done="Label saved.",
    )


@require_POST
def label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    label = selectors.get_label_for(request.user, label_id)
    return run_form(
        request,
        Form(request.POST),
        lambda data: cards.delete_label(label=label, deleted_by=request.user),
        fallback=reverse("kanban:board_labels", args=[label.board_id]),
        done=f"Label “{label.name}” deleted.",
    )


@require_POST
def task_labels(request: HttpRequest, task_id: int) -> HttpResponse:
    """Replace a task's labels with the posted `labels` ids (none clears them)."""
    from . import services

    task = selectors.get_task_for(request.user, task_id)
    return run_form(
        request,
        TaskLabelsForm(request.POST, board=task.column.board),
        lambda data: services.set_task_labels(
            task=task, labels=data["labels"], changed_by=request.user
        ),
        fallback=task.get_absolute_url(),
    )


# --- checklists -------------------------------------------------------------------------


@require_POST
def checklist_add(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.get_task_for(request.user, task_id)
    return run_form(
        request,
        ChecklistItemForm(request.POST),
        lambda data: cards.add_checklist_item(task=task, text=data["text"], added_by=request.user),
        fallback=task.get_absolute_url(),
    )


@require_POST
def checklist_done(request: HttpRequest, item_id: int) -> HttpResponse:
    item = selectors.get_checklist_item_for(request.user, item_id)
    return run_form(
        request,
        ChecklistDoneForm(request.POST),
        lambda data: cards.set_checklist_item_done(
            item=item, done=data["done"], changed_by=request.user
        ),
        fallback=item.task.get_absolute_url(),
    )


@require_POST
def checklist_move(request: HttpRequest, item_id: int) -> HttpResponse:
    item = selectors.get_checklist_item_for(request.user, item_id)
    return run_form(
        request,
        PositionForm(request.POST),
        lambda data: cards.move_checklist_item(
            item=item, position=data["position"], moved_by=request.user
        ),
        fallback=item.task.get_absolute_url(),
    )


@require_POST
def checklist_delete(request: HttpRequest, item_id: int) -> HttpResponse:
    item = selectors.get_checklist_item_for(request.user, item_id)
    return run_form(
        request,
        Form(request.POST),
        lambda data: cards.delete_checklist_item(item=item, deleted_by=request.user),
        fallback=item.task.get_absolute_url(),
    )
