"""Validation of the search page's parameters (the query text itself is parsed by `query`)."""

from __future__ import annotations

from django import forms

from .query import MAX_QUERY_LENGTH
from .selectors import KINDS, ORDERS


class SearchForm(forms.Form):
    q = forms.CharField(required=False, strip=True, max_length=MAX_QUERY_LENGTH)
    order = forms.ChoiceField(required=False, choices=[("", "")] + [(o, o) for o in ORDERS])
    type = forms.ChoiceField(required=False, choices=[("", "")] + [(k, k) for k in KINDS])
    cursor = forms.CharField(required=False, max_length=400)

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            prefix = "" if field == "__all__" else f"{field}: "
            return f"{prefix}{errors[0]}"
        return "Invalid search."
