"""Form errors people can read: every message names its field.

Django's default for an empty required field is "This field is required.", and a field
without an explicit label has `label=None`, which is how "None: This field is required."
reached a page. `FieldNamedErrorsMixin` rewords the required-field error as
"<Label> can't be blank." (CharFields strip whitespace, so "   " counts as blank), and
`errors_text` joins a form's errors into one sentence list for a flash message, each
prefixed with its field's label unless the message already starts with it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import pretty_name


def field_label(form: forms.BaseForm, name: str) -> str:
    field = form.fields.get(name)
    label = field.label if field is not None else None
    return str(label) if label else pretty_name(name)


class FieldNamedErrorsMixin:
    """Mix into a Form or ModelForm (before the Django base class). Also gives unstyled text
    inputs and selects Bootstrap's classes, so every form field is a full-size tap target."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():  # type: ignore[attr-defined]
            label = field.label or pretty_name(name)
            field.label = label
            field.error_messages["required"] = f"{label} can't be blank."
            widget = field.widget
            if "class" not in widget.attrs and not widget.is_hidden:
                if isinstance(widget, forms.Select) and not widget.allow_multiple_selected:
                    widget.attrs["class"] = "form-select"
                elif isinstance(widget, forms.Textarea) or (
                    isinstance(widget, forms.widgets.Input)
                    and widget.input_type not in ("checkbox", "radio", "file")
                ):
                    widget.attrs["class"] = "form-control"


def errors_text(form: forms.BaseForm) -> str:
    """All of a bound, invalid form's errors as one line; field errors name their field."""
    parts: list[str] = []
    for name, errors in form.errors.items():
        for message in errors:
            text = str(message)
            if name != "__all__":
                label = field_label(form, name)
                if not text.lower().startswith(label.lower()):
                    text = f"{label}: {text}"
            parts.append(text)
    return " ".join(parts)
