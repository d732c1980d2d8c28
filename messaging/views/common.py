"""Helpers shared by the messaging views: content negotiation and history paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme

from messaging.forms import HistoryParamsForm
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


def history_response(
    request: HttpRequest,
    *,
    key: str,
    page: Callable[..., Page],
    payload: Callable[[Any], dict[str, Any]],
) -> JsonResponse:
    """Validate `before`/`after`/`limit`, fetch one keyset page, answer
    {key: [...oldest first...], "has_more": bool} or 400 {"error": ...}."""
    params = HistoryParamsForm(request.GET)
    if not params.is_valid():
        return json_error(params.first_error())
    result = page(
        before=params.cleaned_data["before"],
        after=params.cleaned_data["after"],
        limit=params.cleaned_data["limit"],
    )
    items = [payload(item) for item in result.items]
    return JsonResponse({key: items, "has_more": result.has_more})


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The posted `next` URL when it points at this site, else `fallback`."""
    target = request.POST.get("next", "")
    # A path, never a bare word: redirect() would try to reverse() it as a view name (500).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
