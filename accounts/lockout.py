"""The page a locked-out log-in gets (django-axes' AXES_LOCKOUT_CALLABLE).

Instead of axes' bare text, the same log-in page (TaskFlow's or the admin's) comes back with
HTTP 429 and a message saying how long to wait. Its form is unbound with the error set
directly: validating it again would run `authenticate()` and count one more failure.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.forms import AuthenticationForm
from django.forms.utils import ErrorDict, ErrorList
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

LOCKED_OUT_STATUS = 429


def lockout_message() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        "Too many failed log-ins for this account from your network. "
        f"Wait {minutes} minutes, then try again."
    )


def lockout_response(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Called by axes as (request, original_response, credentials) on the synchronous path
    and as (request, credentials) on the asynchronous one; neither is needed here."""
    username = request.POST.get("username", "")[:150]
    redirect_to = request.POST.get(REDIRECT_FIELD_NAME, request.GET.get(REDIRECT_FIELD_NAME, ""))
    if request.path == reverse("admin:login"):
        form = _locked_form(AdminAuthenticationForm, request, username)
        context = {
            **admin.site.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "form": form,
            "username": username,
            REDIRECT_FIELD_NAME: redirect_to or reverse("admin:index"),
        }
        return render(request, "admin/login.html", context, status=LOCKED_OUT_STATUS)
    form = _locked_form(AuthenticationForm, request, username)
    return render(
        request,
        "accounts/login.html",
        {"form": form, "next": redirect_to},
        status=LOCKED_OUT_STATUS,
    )


def _locked_form(form_class, request: HttpRequest, username: str):
    form = form_class(request, initial={"username": username})
    form._errors = ErrorDict({"__all__": ErrorList([lockout_message()])})
    return form
