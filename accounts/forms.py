from django import forms
from django.contrib.auth.forms import UserCreationForm

from kanban_board.forms import FieldNamedErrorsMixin

from .confusables import lookalike_username_taken
from .models import NotificationPreferences, User

LOOKALIKE_MESSAGE = "That username looks like one that is already taken. Choose another."


class SignUpForm(FieldNamedErrorsMixin, UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "display_name", "email")

    def clean_username(self) -> str:
        """Django refuses an exact (case-insensitive) duplicate; also refuse a name that
        only looks like an existing one (alice with a Cyrillic a, U+0430), so nobody
        can pass for someone else in chat."""
        username = super().clean_username()  # None when it reported an exact duplicate
        if username and lookalike_username_taken(username):
            raise forms.ValidationError(LOOKALIKE_MESSAGE, code="lookalike")
        return username


class ProfileForm(FieldNamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ("display_name", "email")


class ThemeForm(forms.Form):
    theme = forms.ChoiceField(choices=User.Theme.choices)


class NotificationPreferencesForm(FieldNamedErrorsMixin, forms.ModelForm):
    """E-mail mode per notification kind (issue 11)."""

    class Meta:
        model = NotificationPreferences
        fields = NotificationPreferences.KINDS
        help_texts = {
            "task_assigned": "Also the reminders the day before they are due and once overdue."
        }
