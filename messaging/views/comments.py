"""Task comment threads: the standalone thread page, posting and history. Board members
only: anyone else gets the same 404 as for a missing task."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kanban.selectors import get_task_for
from messaging import ratelimit
from messaging.forms import PostForm
from messaging.selectors import conversations as conversation_selectors
from messaging.selectors import threads as thread_selectors
from messaging.services.notifications import mark_read_for_task
from messaging.services.posting import post_task_comment

from .common import history_response, post_response, safe_next


@require_http_methods(["GET", "POST"])
def task_comments(request: HttpRequest, task_id: int) -> HttpResponse:
    task = get_task_for(request.user, task_id)
    if request.method == "GET":
        mark_read_for_task(user=request.user, task=task)  # opening a thread reads its mentions
        return render(request, "messaging/task_comments.html", {"task": task})

    def location(comment) -> str:
        fallback = reverse("messaging:task_comments", args=[task.pk])
        return f"{safe_next(request, fallback).split('#')[0]}#comment-{comment.pk}"

    return post_response(
        request,
        form=PostForm(request.POST),
        limit=ratelimit.hit(bucket=ratelimit.COMMENT, user_id=request.user.pk),
        save=lambda data: post_task_comment(
            task=task,
            author=request.user,
            content=data["content"],
            client_id=data["client_id"],
            attachment_ids=data["attachment_ids"],
        ),
        payload=lambda comment: conversation_selectors.comment_payloads([comment])[0],
        location=location,
        render_form=lambda form, status: render(
            request,
            "messaging/task_comments.html",
            {"task": task, "comment_form": form},
            status=status,
        ),
    )


@require_GET
def task_comment_history(request: HttpRequest, task_id: int) -> JsonResponse:
    task = get_task_for(request.user, task_id)
    return history_response(
        request,
        key="comments",
        page=lambda **params: thread_selectors.comment_page(task, **params),
        payloads=conversation_selectors.comment_payloads,
        changes=lambda **params: conversation_selectors.task_changes(task, **params),
    )
