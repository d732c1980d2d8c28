from django import forms
from django.contrib.auth.forms import UserCreationForm

from kanban_board.forms import FieldNamedErrorsMixin

from .models import User


class SignUpForm(FieldNamedErrorsMixin, UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "display_name", "email")


class ProfileForm(FieldNamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = User
        fields = ("display_name", "email")


class ThemeForm(forms.Form):
    theme = forms.ChoiceField(choices=User.Theme.choices)
