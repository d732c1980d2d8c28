"""Helpers shared by the messaging views: content negotiation, the post flow and history
paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from messaging import pushback
from messaging.forms import HistoryParamsForm, PostForm
from messaging.ratelimit import Decision
from messaging.selectors.paging import Page


def wants_json(request: HttpRequest) -> bool:
    """Script requests (fetch with Accept: application/json or X-Requested-With) get JSON;
    a plain form post gets a redirect or a re-rendered page."""
    accept = request.headers.get("Accept", "")
    return "application/json" in accept or "X-Requested-With" in request.headers


def json_error(message: str, *, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def post_response(
    request: HttpRequest,
    *,
    form: PostForm,
    limit: Decision,
    save: Callable[[dict[str, Any]], Any],
    payload: Callable[[Any], dict[str, Any]],
    location: Callable[[Any], str],
    render_form: Callable[[PostForm, int], HttpResponse],
) -> HttpResponse:
    """The posting flow shared by chat messages and task comments: rate limit, validate, call
    the one service (`save`), then answer a script with JSON (201 payload, 400/429 error) and a
    plain form post with a redirect to the new item (or the form again, with its error)."""
    if not limit.allowed:
        if wants_json(request):
            response = json_error(limit.message, status=429)
        else:
            form.add_error("content", limit.message)
            response = render_form(form, 429)
        response["Retry-After"] = str(limit.retry_after)
        return response
    if form.is_valid():
        try:
            with pushback.admitted(http=True) as admitted:
                if not admitted:
                    return busy_response(request, form, render_form)
                saved = save(form.cleaned_data)
        except ValidationError as error:
            form.add_error("content", error)
        else:
            if wants_json(request):
                return JsonResponse(payload(saved), status=201)
            return redirect(location(saved))
    if wants_json(request):
        return json_error(" ".join(e for errors in form.errors.values() for e in errors))
    return render_form(form, 400)


def busy_response(
    request: HttpRequest, form: PostForm, render_form: Callable[[PostForm, int], HttpResponse]
) -> HttpResponse:
    """429 + Retry-After: the process is saturated (messaging.pushback); nothing was saved."""
    if wants_json(request):
        response = JsonResponse({"error": pushback.MESSAGE, "code": "slow_down"}, status=429)
    else:
        form.add_error("content", pushback.MESSAGE)
        response = render_form(form, 429)
    response["Retry-After"] = str(pushback.RETRY_AFTER_SECONDS)
    return response


def history_response(
    request: HttpRequest,
    *,
    key: str,
    page: Callable[..., Page],
    payloads: Callable[[list[Any]], list[dict[str, Any]]],
    changes: Callable[..., Page],
    thread: Callable[[int], Any] | None = None,
) -> JsonResponse:
    """Validate `before`/`after`/`around`/`since`/`limit` (and `parent` where `thread` is given),
    fetch one page, answer {key: [...], "has_more": bool} or 400 {"error": ...}.

    `since=<seq>`: every row changed after that sequence number, in sequence order (replies
    and tombstones included), for a client catching up after its socket was away. Otherwise
    a keyset page by id, oldest first: of one thread with `parent=<root id>`, else of the
    top-level rows."""
    params = HistoryParamsForm(request.GET)
    if not params.is_valid():
        return json_error(params.first_error())
    data = params.cleaned_data
    if data["since"] is not None:
        result = changes(since=data["since"], limit=data["limit"])
        return JsonResponse({key: payloads(result.items), "has_more": result.has_more})
    extra = {}
    if data["parent"] is not None:
        if thread is None:
            return json_error("parent: this history has no threads.")
        thread(data["parent"])  # a root the user can read, or 404
        extra["parent"] = data["parent"]
    if data["around"] is not None:  # the page around one item (search results link there)
        result = page(around=data["around"], limit=data["limit"], **extra)
        if result is None:
            return json_error("No such item here.", status=404)
        return JsonResponse(
            {
                key: payloads(result.items),
                "has_more": result.has_more,
                "has_more_before": result.has_more,
                "has_more_after": result.has_newer,
            }
        )
    result = page(before=data["before"], after=data["after"], limit=data["limit"], **extra)
    return JsonResponse({key: payloads(result.items), "has_more": result.has_more})


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The posted `next` URL when it points at this site, else `fallback`."""
    target = request.POST.get("next", "")
    # A path, never a bare word: redirect() would try to reverse() it as a view name (500).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
