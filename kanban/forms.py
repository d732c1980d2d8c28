"""Input validation for the kanban views. Forms validate shape; services enforce the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import User
from kanban_board.forms import FieldNamedErrorsMixin

from .models import Board, Column, Task


class BoardForm(FieldNamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = Board
        fields = ("name", "description")
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control", "autofocus": True}),
            "description": forms.Textarea(attrs={"class": "form-control", "rows": 3}),
        }


class AddMemberForm(FieldNamedErrorsMixin, forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "username"}),
    )


class ColumnForm(FieldNamedErrorsMixin, forms.Form):
    name = forms.CharField(
        max_length=Column._meta.get_field("name").max_length,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )


class ColumnMoveForm(forms.Form):
    """Either an absolute `position` (0 = leftmost) or a `direction` of left/right."""

    position = forms.IntegerField(min_value=0, required=False)
    direction = forms.ChoiceField(choices=[("left", "left"), ("right", "right")], required=False)

    def target_position(self, current: int) -> int:
        """The position to move to, from a column currently at `current`. Call after
        is_valid()."""
        if self.cleaned_data["position"] is not None:
            return self.cleaned_data["position"]
        return max(current - 1, 0) if self.cleaned_data["direction"] == "left" else current + 1

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("position") is None and not data.get("direction"):
            raise forms.ValidationError("Give a position or a direction (left or right).")
        return data


class TaskForm(FieldNamedErrorsMixin, forms.ModelForm):
    """Create and edit a task on `board`; only its members can be chosen as assignee."""

    class Meta:
        model = Task
        fields = ("title", "description", "assignee", "priority", "due_date")
        widgets = {
            "title": forms.TextInput(attrs={"class": "form-control", "autofocus": True}),
            "description": forms.Textarea(attrs={"class": "form-control", "rows": 5}),
            "assignee": forms.Select(attrs={"class": "form-select"}),
            "priority": forms.Select(attrs={"class": "form-select"}),
            "due_date": forms.DateInput(attrs={"class": "form-control", "type": "date"}),
        }

    def __init__(self, *args: Any, board: Board, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assignee.queryset = board.members.order_by("username")
        assignee.label_from_instance = User.get_display_name
        assignee.empty_label = "Unassigned"
        # The board page's quick-add form sends only a title.
        self.fields["priority"].required = False

    def clean_priority(self) -> str:
        return self.cleaned_data.get("priority") or Task.Priority.MEDIUM


class TaskMoveForm(forms.Form):
    """Drop target of a drag: the column's id and the 0-based position in it. Without a
    position the task goes to the bottom."""

    column = forms.IntegerField(min_value=1)
    position = forms.IntegerField(min_value=0, required=False)
