"""Task comment threads: the standalone thread page, posting and history. Board members
only: anyone else gets the same 404 as for a missing task."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kanban.selectors import get_task_for
from messaging import ratelimit
from messaging.forms import PostForm
from messaging.selectors import threads as thread_selectors
from messaging.services.notifications import mark_read_for_task
from messaging.services.posting import post_task_comment

from .common import history_response, json_error, safe_next, wants_json


@require_http_methods(["GET", "POST"])
def task_comments(request: HttpRequest, task_id: int) -> HttpResponse:
    task = get_task_for(request.user, task_id)
    if request.method == "GET":
        mark_read_for_task(user=request.user, task=task)  # opening a thread reads its mentions
        return render(request, "messaging/task_comments.html", {"task": task})
    form = PostForm(request.POST)
    limit = ratelimit.hit(bucket=ratelimit.COMMENT, user_id=request.user.pk)
    if not limit.allowed:
        if wants_json(request):
            response = json_error(limit.message, status=429)
        else:
            form.add_error("content", limit.message)
            context = {"task": task, "comment_form": form}
            response = render(request, "messaging/task_comments.html", context, status=429)
        response["Retry-After"] = str(limit.retry_after)
        return response
    if form.is_valid():
        try:
            comment = post_task_comment(
                task=task,
                author=request.user,
                content=form.cleaned_data["content"],
                client_id=form.cleaned_data["client_id"],
            )
        except ValidationError as error:
            form.add_error("content", error)
        else:
            if wants_json(request):
                return JsonResponse(thread_selectors.comment_payload(comment), status=201)
            fallback = reverse("messaging:task_comments", args=[task.pk])
            target = safe_next(request, fallback).split("#")[0]
            return redirect(f"{target}#comment-{comment.pk}")
    if wants_json(request):
        return json_error(" ".join(e for errors in form.errors.values() for e in errors))
    return render(
        request, "messaging/task_comments.html", {"task": task, "comment_form": form}, status=400
    )


@require_GET
def task_comment_history(request: HttpRequest, task_id: int) -> JsonResponse:
    task = get_task_for(request.user, task_id)
    return history_response(
        request,
        key="comments",
        page=lambda **params: thread_selectors.comment_page(task, **params),
        payload=thread_selectors.comment_payload,
    )
