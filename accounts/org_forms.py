"""Input validation for the organization pages. Forms validate shape; services own the rules."""

from __future__ import annotations

from django import forms

from .models import AuditLog, Membership, Organization


class OrganizationForm(forms.Form):
    name = forms.CharField(
        max_length=Organization._meta.get_field("name").max_length,
        widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True}),
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        widget=forms.EmailInput(attrs={"class": "form-control", "placeholder": "name@example.com"}),
    )
    role = forms.ChoiceField(
        choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
        initial=Membership.Role.MEMBER,
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


_DATE_ATTRS = {"type": "date", "class": "form-control form-control-sm"}


class AuditFilterForm(forms.Form):
    """The audit page's filters; every one optional. `since`/`until` are inclusive dates."""

    actor = forms.CharField(required=False, max_length=150)
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditLog.Action.choices]
    )
    since = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            prefix = "" if field == "__all__" else f"{field}: "
            return f"{prefix}{errors[0]}"
        return "Invalid filter."
