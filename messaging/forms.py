"""Forms validate interface input; the services own the rules (length, membership, names)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.models import User
from kanban_board.forms import FieldNamedErrorsMixin
from messaging.services.posting import CLIENT_ID_MAX_LENGTH

HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100


class _MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        name = obj.get_display_name()
        return name if name == obj.username else f"{name} (@{obj.username})"


class ChatRoomForm(FieldNamedErrorsMixin, forms.Form):
    name = forms.CharField(max_length=80)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    members = _MemberChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="You are always a member of the rooms you create.",
    )

    def __init__(self, *args, candidates: QuerySet[User], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = candidates
        self.fields["name"].widget.attrs.update({"class": "form-control", "autofocus": True})
        self.fields["description"].widget.attrs.update({"class": "form-control"})

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the field it names (or on the form)."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            self.add_error(None, error)


class PostForm(forms.Form):
    """A chat message or a comment posted over HTTP (the socket sends the same fields)."""

    content = forms.CharField(
        strip=False,  # the service strips and reports empty text in its own words
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": settings.MESSAGE_MAX_LENGTH}),
    )
    client_id = forms.CharField(max_length=CLIENT_ID_MAX_LENGTH, required=False)
    # Chat only (issue 10): the message this one replies to.
    parent_id = forms.IntegerField(min_value=1, required=False)
    # Issue 12: uploads sent with it (repeat the field, or one comma-separated value).
    attachment_ids = forms.CharField(required=False)

    def clean_attachment_ids(self) -> list[int]:
        raw = ",".join(self.data.getlist("attachment_ids")) if hasattr(self.data, "getlist") else ""
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not all(part.isdigit() and int(part) > 0 for part in parts):
            raise forms.ValidationError("attachment_ids must be attachment ids.")
        return [int(part) for part in parts]


class EditForm(forms.Form):
    """The new text of an edited message or comment."""

    content = forms.CharField(strip=False, required=False)


class ReactForm(forms.Form):
    """The emoji to toggle (validated by the reactions service)."""

    emoji = forms.CharField(max_length=64)


class MemberForm(forms.Form):
    """Add or remove a room member, named by username or user id."""

    action = forms.ChoiceField(choices=[("add", "Add"), ("remove", "Remove")])
    user = forms.CharField(max_length=150)

    def __init__(self, *args, candidates: QuerySet[User], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.candidates = candidates

    def clean_user(self) -> User:
        value = self.cleaned_data["user"].strip().lstrip("@")
        queryset = self.candidates
        # An id is ASCII digits only: isdigit() also accepts "²" and "①", which int() refuses.
        user_id = int(value) if value.isascii() and value.isdigit() else None
        user = (
            queryset.filter(pk=user_id).first()
            if user_id is not None
            else queryset.filter(username__iexact=value).first()
        )
        if user is None:
            raise ValidationError("No member of this board has that name.")
        return user


class HistoryParamsForm(forms.Form):
    """`?before=<id>`, `?after=<id>`, `?around=<id>` or `?since=<seq>` (one of them) and
    `limit` (1..100, default 50); chat history also takes `parent=<root id>` (a thread)."""

    before = forms.IntegerField(min_value=1, required=False)
    after = forms.IntegerField(min_value=0, required=False)
    around = forms.IntegerField(min_value=1, required=False)
    since = forms.IntegerField(min_value=0, required=False)
    parent = forms.IntegerField(min_value=1, required=False)
    limit = forms.IntegerField(min_value=1, max_value=HISTORY_MAX_LIMIT, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        given = [k for k in ("before", "after", "around", "since") if cleaned.get(k) is not None]
        if len(given) > 1:
            raise ValidationError("Pass only one of before, after, around or since.")
        if cleaned.get("limit") is None:
            cleaned["limit"] = HISTORY_DEFAULT_LIMIT
        return cleaned

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            prefix = "" if field == "__all__" else f"{field}: "
            return f"{prefix}{errors[0]}"
        return "Invalid parameters."


# --- Issue 11: unread per room -----------------------------------------------------------

BIGINT_MAX = 2**63 - 1


class ReadPointerForm(forms.Form):
    """`message_id`: the newest message of the room the user has seen."""

    message_id = forms.IntegerField(
        min_value=1,
        max_value=BIGINT_MAX,
        error_messages={"required": "Say which message you read (message_id)."},
    )


class MuteForm(forms.Form):
    """`muted`: "true" or "false" (also 1/0, on/off)."""

    muted = forms.TypedChoiceField(
        choices=[(v, v) for v in ("true", "false", "1", "0", "on", "off")],
        coerce=lambda value: value in ("true", "1", "on"),
        error_messages={
            "required": "Say whether to mute the room (muted=true or false).",
            "invalid_choice": "muted must be true or false.",
        },
    )
