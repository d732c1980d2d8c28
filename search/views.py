"""`/search/?q=...`: the results page, grouped by kind, and the same search as JSON.

GET parameters: `q` (the query; syntax in `search.query`), `order` (`relevance` | `newest`;
relevance by default when there are words), `type` (`message` | `comment` | `task`: one kind
only, paged) and `cursor` (from a previous page's `next`). A query the user must rephrase is
a 400 with the reason (JSON `{"error": ...}`), never a 500.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from messaging.views.common import json_error, wants_json

from . import engine
from .forms import SearchForm
from .models import SearchDocument
from .query import HELP, QueryError, parse
from .selectors import SearchPage, default_order, scope_for, search_for

GROUP_SIZE = 5
GROUPS = (
    (SearchDocument.Kind.MESSAGE, "Messages"),
    (SearchDocument.Kind.COMMENT, "Comments"),
    (SearchDocument.Kind.TASK, "Tasks"),
)


def _url(**params: str | None) -> str:
    clean = {key: value for key, value in params.items() if value}
    return f"{reverse('search:search')}?{urlencode(clean)}"


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    as_json = wants_json(request)
    form = SearchForm(request.GET)
    context: dict = {"q": request.GET.get("q", ""), "help": HELP}
    if not form.is_valid():
        return _error(request, form.first_error(), context, as_json=as_json)
    data = form.cleaned_data
    q, kind, cursor = data["q"], data["type"] or None, data["cursor"] or None
    context.update(q=q, kind=kind)
    try:
        query = parse(q)
        order = data["order"] or default_order(query)
        if as_json or kind:
            page = search_for(request.user, query, order=order, kind=kind, cursor=cursor)
        else:
            scope = scope_for(request.user)
            groups = [
                (
                    value,
                    label,
                    search_for(
                        request.user, query, order=order, kind=value, limit=GROUP_SIZE, scope=scope
                    ),
                )
                for value, label in GROUPS
            ]
    except QueryError as error:
        return _error(request, str(error), context, as_json=as_json)

    if as_json:
        next_url = None
        if page.has_more:
            next_url = _url(q=q, order=page.order, type=kind, cursor=page.cursor)
        return JsonResponse(
            {
                "results": [result.as_json() for result in page.results],
                "has_more": page.has_more,
                "next": next_url,
                "notes": list(page.notes),
            }
        )
    context.update(
        searched=not query.is_empty,
        order=order,
        can_rank=bool(query.include),
        toggle={o: _url(q=q, order=o, type=kind) for o in (engine.RELEVANCE, engine.NEWEST)},
    )
    if kind:
        label = dict(GROUPS)[kind]
        context["groups"] = [_group(kind, label, page, q=q, order=page.order, paged=True)]
        context["all_url"] = _url(q=q, order=order)
    else:
        context["groups"] = [
            _group(value, label, group_page, q=q, order=group_page.order, paged=False)
            for value, label, group_page in groups
        ]
    context["notes"] = sorted({note for group in context["groups"] for note in group["notes"]})
    return render(request, "search/search.html", context)


def _group(kind: str, label: str, page: SearchPage, *, q: str, order: str, paged: bool) -> dict:
    if paged:
        more = _url(q=q, order=order, type=kind, cursor=page.cursor) if page.has_more else None
    else:
        more = _url(q=q, order=order, type=kind) if page.has_more else None
    return {
        "kind": kind,
        "label": label,
        "results": page.results,
        "more_url": more,
        "more_label": "Next page" if paged else f"More {label.lower()}",
        "notes": page.notes,
    }


def _error(request: HttpRequest, message: str, context: dict, *, as_json: bool) -> HttpResponse:
    if as_json:
        return json_error(message)
    context.update(error=message, searched=False, groups=[])
    return render(request, "search/search.html", context, status=400)
