"""/accounts/tokens/: the personal access tokens page. Lists the user's tokens (name, scopes,
created, last used), makes one (its secret shown on the answer page once) and revokes one."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from kanban_board.forms import FieldNamedErrorsMixin

from . import tokens
from .models import ApiToken


class TokenForm(FieldNamedErrorsMixin, forms.Form):
    name = forms.CharField(
        max_length=tokens.NAME_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "e.g. nightly export"}
        ),
        help_text="What will use it, so you recognise it later.",
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        initial=[ApiToken.Scope.READ],
        widget=forms.CheckboxSelectMultiple,
        help_text="Write includes read.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"class": "form-control", "type": "date"}),
        help_text="Leave empty for a token that never expires.",
    )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        # The end of that day in the site's time zone.
        return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# The new secret waits in the session for the one page that shows it (post/redirect/get, so
# a reload cannot make a second token), and is removed from it by that page.
NEW_TOKEN_KEY = "api_new_token"


def _render(request: HttpRequest, form: TokenForm, *, status: int = 200) -> HttpResponse:
    new_token = request.session.pop(NEW_TOKEN_KEY, "") if request.method == "GET" else ""
    response = render(
        request,
        "api/tokens.html",
        {"form": form, "tokens": tokens.tokens_for(request.user), "new_token": new_token},
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the secret must not be cached
    return response


@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                _token, raw = tokens.create_token(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.expires_at(),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                request.session[NEW_TOKEN_KEY] = raw
                return redirect("api_tokens:list")
        return _render(request, form, status=400)
    return _render(request, form)


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = tokens.get_token_for(request.user, token_id)
    tokens.revoke_token(token=token, revoked_by=request.user)
    messages.success(request, f"Token “{token.name}” revoked: it stops working at once.")
    return redirect("api_tokens:list")
