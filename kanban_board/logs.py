"""Logging: the request id and user id of the HTTP request being served, on every record,
and a one-line JSON formatter (LOG_FORMAT=json).

`request_context_middleware` (after AuthenticationMiddleware) sets both in context variables,
which asgiref carries into the threads a request runs in; it honours an incoming
X-Request-ID (from the proxy) and echoes the id in the response.
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

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# LogRecord attributes that are not "extra" fields (and extras that are objects, not data).
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request", "scope"}


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user_id` (None outside a request) to every record. Django logs
    a 4xx/5xx answer after the middleware has finished, passing the request along: the ids
    then come from the request itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = request_id.get() or getattr(request, "request_id", None)
        record.user_id = user_id.get() or getattr(request, "log_user_id", None)
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


def _begin(request: HttpRequest, user) -> tuple[contextvars.Token, contextvars.Token, str]:
    incoming = request.headers.get("X-Request-ID", "")
    rid = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
    uid = user.pk if user is not None and user.is_authenticated else None
    request.request_id, request.log_user_id = rid, uid
    return request_id.set(rid), user_id.set(uid), rid


def _end(tokens: tuple[contextvars.Token, contextvars.Token, str], response: HttpResponse):
    rid_token, uid_token, rid = tokens
    response.headers.setdefault("X-Request-ID", rid)
    request_id.reset(rid_token)
    user_id.reset(uid_token)
    return response


def request_context_middleware(get_response: Callable) -> Callable:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            # The session is read from the database: never from the event loop itself.
            user = await request.auser() if hasattr(request, "auser") else None
            tokens = _begin(request, user)
            return _end(tokens, await get_response(request))

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        tokens = _begin(request, getattr(request, "user", None))
        return _end(tokens, get_response(request))

    return sync_middleware


request_context_middleware.sync_capable = True  # type: ignore[attr-defined]
request_context_middleware.async_capable = True  # type: ignore[attr-defined]
