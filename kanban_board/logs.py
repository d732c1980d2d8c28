"""Logging: the request id and user id of the HTTP request being served, on every record,
and a one-line JSON formatter (LOG_FORMAT=json).

`request_context_middleware` puts the request and its id in context variables, which asgiref
carries into the threads a request runs in; it honours an incoming X-Request-ID (from the
proxy) and echoes the id in the response. The user id is read only if the request's user was
already loaded (by the auth middleware or the view): logging never costs a query.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# LogRecord attributes that are not "extra" fields (and extras that are objects, not data).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request", "scope"}


def loaded_user_id(request: HttpRequest | None) -> int | None:
    """The request's user id if something already loaded the user; never loads it (that is
    a database query, and a log call may run on the event loop)."""
    if request is None:
        return None
    for user in (getattr(request, "_cached_user", None), getattr(request, "_acached_user", None)):
        if user is not None and user.is_authenticated:
            return user.pk
    lazy = request.__dict__.get("user")
    wrapped = getattr(lazy, "_wrapped", empty) if lazy is not None else empty
    if wrapped is not empty and wrapped is not None and wrapped.is_authenticated:
        return wrapped.pk
    return None


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user_id` (None outside a request) to every record. Django logs
    a 4xx/5xx answer after the middleware has finished, passing the request along: the ids
    then come from the request itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get() or getattr(record, "request", None)
        record.request_id = request_id.get() or getattr(request, "request_id", None)
        record.user_id = loaded_user_id(request) if isinstance(request, HttpRequest) else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request and user ids, any
    `extra` fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _begin(request: HttpRequest) -> tuple[contextvars.Token, contextvars.Token, str]:
    incoming = request.headers.get("X-Request-ID", "")
    rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
    request.request_id = rid
    return request_id.set(rid), current_request.set(request), rid


def _end(tokens: tuple[contextvars.Token, contextvars.Token, str], response: HttpResponse):
    rid_token, request_token, rid = tokens
    response.headers.setdefault("X-Request-ID", rid)
    request_id.reset(rid_token)
    current_request.reset(request_token)
    return response


def request_context_middleware(get_response: Callable) -> Callable:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            tokens = _begin(request)
            return _end(tokens, await get_response(request))

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        tokens = _begin(request)
        return _end(tokens, get_response(request))

    return sync_middleware


request_context_middleware.sync_capable = True  # type: ignore[attr-defined]
request_context_middleware.async_capable = True  # type: ignore[attr-defined]
