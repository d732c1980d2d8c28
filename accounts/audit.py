"""The audit trail: `record_audit(...)`, called by services inside the transaction of the
change they record, so a rolled-back change leaves no row and a committed one always has one.
Never called from signals (they hide the flow).

The request's IP address reaches `record_audit` through `request_ip` (a context variable the
`AuditContextMiddleware` sets per request), so services need no request parameter; writes
from a shell or a Celery task record no address.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse

from .models import AuditLog, Organization, User

Action = AuditLog.Action

request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "audit_request_ip", default=None
)


def record_audit(
    *,
    organization: Organization | int,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: int | None = None,
    target_label: str = "",
    changes: Mapping[str, Any] | None = None,
) -> AuditLog:
    """Append one row. `action` is an `AuditLog.Action` value (new ones: add a member there).
    `target` fills type, id and label (its model name, pk and str); pass them explicitly for
    an object that is already deleted. `changes` is JSON: {"field": [before, after]} or
    plain facts ({"role": "admin"}).

    Must run inside the caller's transaction: raises if called outside one, so an audit row
    can never be committed apart from the change it describes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_audit must run inside the transaction of the change")
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_id = target_id if target_id is not None else target.pk
        target_label = target_label or str(target)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        organization_id=organization if isinstance(organization, int) else organization.pk,
        actor=actor if is_user else None,
        actor_label=actor.username if is_user else "",
        action=action,
        target_type=target_type[:40],
        target_id=target_id,
        target_label=target_label[:200],
        changes=dict(changes or {}),
        ip_address=request_ip.get(),
    )


def client_ip(request: HttpRequest) -> str | None:
    """The peer address Django sees (REMOTE_ADDR; a proxy in front sets it via daphne's
    --proxy-headers). Never the raw X-Forwarded-For a client could forge."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Makes the request's IP address available to `record_audit` for its duration."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)
