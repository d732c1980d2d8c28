"""Every API error is JSON: `{"detail": ...}` or `{"field": ["..."]}`.

DRF's handler covers its own exceptions and Http404 ("missing" and "not yours" alike). Added
here: a service's `ValidationError` is a 400 with its message (field errors when it names
fields), or a 403 when its code is "forbidden" (someone else's message: readable, not
changeable). A DRF 401 keeps its WWW-Authenticate challenge; a 429 its Retry-After.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def validation_error_body(error: ValidationError) -> dict:
    if hasattr(error, "error_dict"):
        return {
            field if field != "__all__" else "detail": [str(m) for e in errors for m in e.messages]
            for field, errors in error.error_dict.items()
        }
    return {"detail": " ".join(error.messages)}


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        code = getattr(exc, "code", None)
        if code == "forbidden":
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_403_FORBIDDEN)
        return Response(validation_error_body(exc), status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
