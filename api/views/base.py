"""What every API view shares: reachable without a login redirect (the view authenticates:
401 JSON instead of the login page), input validation, rate limits and cursor pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import Throttled
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from messaging import pushback, ratelimit


class ApiView(APIView):
    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        # LoginRequiredMiddleware would redirect a token request to the login page: the API
        # authenticates in the view (api.auth) and answers 401 itself.
        view.login_required = False
        return view


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The request body, validated (400 with field errors otherwise)."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def check_rate(*, bucket: str, user_id: int) -> None:
    """The same per-user posting limit as the page and the socket (messaging.ratelimit)."""
    limit = ratelimit.hit(bucket=bucket, user_id=user_id)
    if not limit.allowed:
        raise Throttled(wait=limit.retry_after, detail=limit.message)


@contextmanager
def admitted() -> Iterator[None]:
    """Pushback: a saturated process answers 429 instead of queueing (messaging.pushback)."""
    with pushback.admitted(http=True) as ok:
        if not ok:
            raise Throttled(wait=pushback.RETRY_AFTER_SECONDS, detail=pushback.MESSAGE)
        yield


class IdCursorPagination(CursorPagination):
    """Newest first, by id: an opaque `cursor` in `next`/`previous`, never an offset, so a
    page link stays right while new rows arrive."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100


def paginate(view: APIView, queryset, build) -> Any:
    paginator = IdCursorPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(build(list(page)))


CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From a previous page's next/previous."),
    OpenApiParameter("limit", int, description="Items per page (1-100, default 50)."),
]


def page_of(serializer: type[serializers.Serializer], name: str) -> serializers.Serializer:
    """The OpenAPI shape of a cursor page of `serializer` items."""
    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )
