"""Edit, delete, react and edit history for chat messages and task comments (issue 10).

Each endpoint finds the post through an access getter (404 when the user cannot read it),
validates with a form, calls one service and answers JSON to a script (200 with the item, 400
or 403 `{"error"}`, 429 when rate limited) or redirects a plain form post back to the post.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from messaging import ratelimit
from messaging.forms import EditForm, ReactForm
from messaging.selectors import conversations as selectors
from messaging.services.editing import (
    delete_chat_message,
    delete_task_comment,
    edit_chat_message,
    edit_task_comment,
)
from messaging.services.reactions import toggle_reaction

from .common import error_text, json_error, wants_json


def _act(
    request: HttpRequest,
    *,
    bucket: str,
    form: Any,
    act: Callable[[dict[str, Any]], Any],
    answer: Callable[[Any], dict[str, Any]],
    location: str,
) -> HttpResponse:
    """Rate limit, validate, call the service; answer JSON or redirect to `location`."""
    as_json = wants_json(request)
    limit = ratelimit.hit(bucket=bucket, user_id=request.user.pk)
    if not limit.allowed:
        if not as_json:
            flash.error(request, limit.message)
            return redirect(location)
        response = json_error(limit.message, status=429)
        response["Retry-After"] = str(limit.retry_after)
        return response
    if not form.is_valid():
        text = " ".join(e for errors in form.errors.values() for e in errors)
        if as_json:
            return json_error(text)
        flash.error(request, text)
        return redirect(location)
    try:
        result = act(form.cleaned_data)
    except ValidationError as error:
        status = 403 if getattr(error, "code", None) == "forbidden" else 400
        if as_json:
            return json_error(error_text(error), status=status)
        flash.error(request, error_text(error))
        return redirect(location)
    if as_json:
        return JsonResponse(answer(result))
    return redirect(location)


def _message_item(message) -> dict[str, Any]:
    message.refresh_from_db()
    return selectors.message_payloads([message])[0]


def _comment_item(comment) -> dict[str, Any]:
    comment.refresh_from_db()
    return selectors.comment_payloads([comment])[0]


# --- chat messages ----------------------------------------------------------------------


@require_POST
def message_edit(request: HttpRequest, message_id: int) -> HttpResponse:
    message = selectors.get_message_for(request.user, message_id)
    return _act(
        request,
        bucket=ratelimit.CHAT,
        form=EditForm(request.POST),
        act=lambda data: edit_chat_message(
            message=message, editor=request.user, content=data["content"]
        ),
        answer=_message_item,
        location=message.get_absolute_url(),
    )


@require_POST
def message_delete(request: HttpRequest, message_id: int) -> HttpResponse:
    message = selectors.get_message_for(request.user, message_id)
    return _act(
        request,
        bucket=ratelimit.CHAT,
        form=EditForm({}),
        act=lambda data: delete_chat_message(message=message, deleted_by=request.user),
        answer=_message_item,
        location=message.get_absolute_url(),
    )


@require_POST
def message_react(request: HttpRequest, message_id: int) -> HttpResponse:
    message = selectors.get_message_for(request.user, message_id)
    return _act(
        request,
        bucket=ratelimit.CHAT,
        form=ReactForm(request.POST),
        act=lambda data: toggle_reaction(post=message, user=request.user, emoji=data["emoji"]),
        answer=lambda payload: payload,
        location=message.get_absolute_url(),
    )


@require_GET
def message_edits(request: HttpRequest, message_id: int) -> JsonResponse:
    """Earlier versions of a message, oldest first, then the current one."""
    message = selectors.get_message_for(request.user, message_id)
    return JsonResponse({"message_id": message.pk, "versions": selectors.edit_history(message)})


# --- task comments ----------------------------------------------------------------------


@require_POST
def comment_edit(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = selectors.get_comment_for(request.user, comment_id)
    return _act(
        request,
        bucket=ratelimit.COMMENT,
        form=EditForm(request.POST),
        act=lambda data: edit_task_comment(
            comment=comment, editor=request.user, content=data["content"]
        ),
        answer=_comment_item,
        location=comment.get_absolute_url(),
    )


@require_POST
def comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = selectors.get_comment_for(request.user, comment_id)
    return _act(
        request,
        bucket=ratelimit.COMMENT,
        form=EditForm({}),
        act=lambda data: delete_task_comment(comment=comment, deleted_by=request.user),
        answer=_comment_item,
        location=comment.get_absolute_url(),
    )


@require_POST
def comment_react(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = selectors.get_comment_for(request.user, comment_id)
    return _act(
        request,
        bucket=ratelimit.COMMENT,
        form=ReactForm(request.POST),
        act=lambda data: toggle_reaction(post=comment, user=request.user, emoji=data["emoji"]),
        answer=lambda payload: payload,
        location=comment.get_absolute_url(),
    )


@require_GET
def comment_edits(request: HttpRequest, comment_id: int) -> JsonResponse:
    comment = selectors.get_comment_for(request.user, comment_id)
    return JsonResponse({"comment_id": comment.pk, "versions": selectors.edit_history(comment)})
