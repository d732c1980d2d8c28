"""Input validation for the kanban views. Forms validate shape; services enforce the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.access import readable_organizations
from accounts.models import Organization, User
from kanban_board.forms import FieldNamedErrorsMixin

from .access import board_readers
from .models import Board, ChecklistItem, Column, Label, Task


class BoardForm(FieldNamedErrorsMixin, forms.ModelForm):
    class Meta:
        model = Board
        fields = ("name", "description")
        widgets = {
            "name": forms.TextInput(attrs={"class": "form-control", "autofocus": True}),
            "description": forms.Textarea(attrs={"class": "form-control", "rows": 3}),
        }


class BoardCreateForm(BoardForm):
    """A new board also picks its organization, among the creator's own."""

    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        required=False,  # left out: the creator's first organization (or a new own one)
        empty_label=None,
        widget=forms.Select(attrs={"class": "form-select"}),
        help_text="Only members of this organization can be added to the board.",
    )

    class Meta(BoardForm.Meta):
        fields = ("organization", "name", "description")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = readable_organizations(user).order_by("name")


class AddMemberForm(FieldNamedErrorsMixin, forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "username", "list": "addable-members"}
        ),
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
        fields = ("title", "description", "assignee", "priority", "due_date", "labels")
        widgets = {
            # No class: Django puts a widget's attrs on the list's <div> as well as on each box,
            # and "form-check-input" made the list a 1 em box that the buttons overlapped.
            "labels": forms.CheckboxSelectMultiple(),
            "title": forms.TextInput(attrs={"class": "form-control", "autofocus": True}),
            "description": forms.Textarea(attrs={"class": "form-control", "rows": 5}),
            "assignee": forms.Select(attrs={"class": "form-select"}),
            "priority": forms.Select(attrs={"class": "form-select"}),
            "due_date": forms.DateInput(attrs={"class": "form-control", "type": "date"}),
        }

    def __init__(self, *args: Any, board: Board, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assignee.queryset = board_readers(board.pk).order_by("username")
        assignee.label_from_instance = User.get_display_name
        assignee.empty_label = "Unassigned"
        self.fields["labels"].queryset = board.labels.order_by("name", "pk")
        self.fields["labels"].required = False
        # The board page's quick-add form sends only a title.
        self.fields["priority"].required = False

    def clean_priority(self) -> str:
        return self.cleaned_data.get("priority") or Task.Priority.MEDIUM


class TaskMoveForm(forms.Form):
    """Drop target of a drag: the column's id and the 0-based position in it. Without a
    position the task goes to the bottom."""

    column = forms.IntegerField(min_value=1)
    position = forms.IntegerField(min_value=0, required=False)


class LabelForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=Label._meta.get_field("name").max_length,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    colour = forms.ChoiceField(
        label="Colour",
        choices=Label.Colour.choices,
        widget=forms.Select(attrs={"class": "form-select"}),
    )


class TaskLabelsForm(forms.Form):
    """The labels a task should carry: any of its board's (none clears them)."""

    labels = forms.ModelMultipleChoiceField(
        label="Labels", queryset=Label.objects.none(), required=False
    )

    def __init__(self, *args: Any, board: Board, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["labels"].queryset = board.labels.all()


class ChecklistItemForm(forms.Form):
    text = forms.CharField(
        label="Checklist item",
        max_length=ChecklistItem._meta.get_field("text").max_length,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )


class ChecklistDoneForm(forms.Form):
    done = forms.TypedChoiceField(
        label="Done",
        choices=[("true", "done"), ("false", "not done")],
        coerce=lambda v: v == "true",
    )


class PositionForm(forms.Form):
    position = forms.IntegerField(label="Position", min_value=0)
