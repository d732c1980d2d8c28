"""Notifications, unread counts, search and personal access tokens over the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from messaging.models import Notification
from messaging.selectors.notifications import (
    get_notification_for,
    notifications_for,
    unread_count,
)
from messaging.selectors.unread import unread_counts
from messaging.services import notifications as notification_services
from search.forms import SearchForm
from search.query import QueryError, parse
from search.selectors import default_order, search_for

from .. import serializers as s
from .. import tokens
from ..auth import SessionOnly, TokenScope
from .base import CURSOR_PARAMETERS, ApiView, page_of, paginate, validated

# --- notifications ------------------------------------------------------------------------


def notification_json(notification: Notification) -> dict[str, Any]:
    sender = notification.sender
    return {
        "id": notification.pk,
        "type": notification.notification_type,
        "text": notification.text,
        "url": notification.get_absolute_url(),
        "sender": (
            {
                "id": sender.pk,
                "username": sender.username,
                "display_name": sender.get_display_name(),
            }
            if sender
            else None
        ),
        "is_read": notification.is_read,
        "created_at": notification.created_at,
    }


class NotificationListView(ApiView):
    @extend_schema(
        operation_id="notifications_list",
        summary="My notifications, newest first",
        parameters=[
            OpenApiParameter("unread", bool, description="true: only the unread ones."),
            *CURSOR_PARAMETERS,
        ],
        responses=page_of(s.NotificationSerializer, "PaginatedNotificationList"),
    )
    def get(self, request):
        queryset = notifications_for(request.user).select_related("task")
        if request.query_params.get("unread") in ("1", "true", "yes"):
            queryset = queryset.filter(is_read=False)
        return paginate(self, queryset, lambda rows: [notification_json(n) for n in rows])


class NotificationReadView(ApiView):
    @extend_schema(
        operation_id="notifications_read",
        summary="Mark one notification read",
        request=None,
        responses=s.CountSerializer,
    )
    def post(self, request, notification_id: int):
        notification = get_notification_for(request.user, notification_id)
        count = notification_services.mark_notification_read(
            notification=notification, user=request.user
        )
        return Response({"count": count})


class NotificationReadAllView(ApiView):
    @extend_schema(
        operation_id="notifications_read_all",
        summary="Mark all my notifications read",
        request=None,
        responses=s.CountSerializer,
    )
    def post(self, request):
        return Response({"count": notification_services.mark_all_read(user=request.user)})


class NotificationCountView(ApiView):
    @extend_schema(operation_id="notifications_count", responses=s.CountSerializer)
    def get(self, request):
        return Response({"count": unread_count(request.user.pk)})


# --- unread counts per room -----------------------------------------------------------------


class UnreadView(ApiView):
    @extend_schema(
        operation_id="unread_retrieve",
        summary="Unread messages and mentions per room (as GET /messaging/unread/)",
        responses={200: s.UnreadSerializer},
    )
    def get(self, request):
        return Response(unread_counts(request.user))


# --- search -------------------------------------------------------------------------------


class SearchView(ApiView):
    @extend_schema(
        operation_id="search",
        summary="Search messages, comments and tasks I can read (syntax as the Search page)",
        parameters=[
            OpenApiParameter("q", str, required=True),
            OpenApiParameter("order", str, enum=["relevance", "newest"]),
            OpenApiParameter("type", str, enum=["message", "comment", "task"]),
            OpenApiParameter("cursor", str, description="From a previous page's next."),
        ],
        responses=s.SearchPageSerializer,
    )
    def get(self, request):
        form = SearchForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.first_error())
        data = form.cleaned_data
        kind = data["type"] or None
        try:
            query = parse(data["q"])
            order = data["order"] or default_order(query)
            page = search_for(
                request.user, query, order=order, kind=kind, cursor=data["cursor"] or None
            )
        except QueryError as error:
            raise ValidationError(str(error)) from None
        next_url = None
        if page.has_more:
            params = {"q": data["q"], "order": page.order, "type": kind, "cursor": page.cursor}
            query_string = urlencode({k: v for k, v in params.items() if v})
            next_url = request.build_absolute_uri(f"{request.path}?{query_string}")
        return Response(
            {
                "results": [result.as_json() for result in page.results],
                "has_more": page.has_more,
                "next": next_url,
                "notes": list(page.notes),
            }
        )


# --- tokens -------------------------------------------------------------------------------


def token_json(token) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


class TokenListView(ApiView):
    """Session only (with CSRF): a token cannot make more tokens."""

    permission_classes = [IsAuthenticated, SessionOnly, TokenScope]

    @extend_schema(operation_id="tokens_list", responses=s.TokenSerializer(many=True))
    def get(self, request):
        return Response([token_json(t) for t in tokens.tokens_for(request.user)])

    @extend_schema(
        operation_id="tokens_create",
        summary="Make a personal access token (the token is shown this once)",
        request=s.TokenCreateSerializer,
        responses={201: s.NewTokenSerializer},
    )
    def post(self, request):
        data = validated(s.TokenCreateSerializer, request.data)
        token, raw = tokens.create_token(
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
        )
        return Response(
            {
                "id": token.pk,
                "name": token.name,
                "token": raw,
                "scopes": token.scopes,
                "expires_at": token.expires_at,
            },
            status=status.HTTP_201_CREATED,
        )


class TokenDetailView(ApiView):
    permission_classes = [IsAuthenticated, SessionOnly, TokenScope]

    @extend_schema(operation_id="tokens_destroy", summary="Revoke a token", responses={204: None})
    def delete(self, request, token_id: int):
        token = tokens.get_token_for(request.user, token_id)
        tokens.revoke_token(token=token, revoked_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
