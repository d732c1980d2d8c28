"""Admin for boards, columns and tasks.

Django inlines follow one foreign key and do not nest, and a task reaches its board only
through its column (Board <- Column <- Task). So the board page shows its columns inline, each
with a read-only list of its tasks linking to their admin pages; the column page lists its
tasks read-only; and tasks have their own searchable list with a board filter.

The admin is an interface like the app's pages: every write goes through kanban.services
(with `as_admin=True`), so members, columns and positions change exactly as they do in the
app: positions stay 0..n-1, a removed member's sockets close, the audit log records it.
Fields no service edits (organization, creator) are read-only; boards, columns and tasks are
created in the app, not here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.access import organization_members

from . import access, services
from .models import Board, Column, Task


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class _ServiceDeleteMixin:
    """Deleting one object or a selection goes through `delete_one` (a service); a refusal is
    shown as an error message instead of a 500."""

    def delete_one(self, request: HttpRequest, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj) -> None:
        try:
            self.delete_one(request, obj)
        except ValidationError as error:
            self.message_user(request, _error_text(error), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ColumnInline(admin.TabularInline):
    """Read-only: columns are renamed on their own admin page and moved in the app."""

    model = Column
    fields = ("name", "position", "tasks_in_column")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("position", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Column]:
        return super().get_queryset(request).prefetch_related("tasks__assignee")

    @admin.display(description="Tasks")
    def tasks_in_column(self, column: Column) -> str:
        if column.pk is None:
            return "-"
        tasks = column.tasks.all()
        if not tasks:
            return "(no tasks)"
        return format_html_join(
            format_html("<br>"),
            '<a href="{}">{}</a> <span class="quiet">({}, {})</span>',
            (
                (
                    reverse("admin:kanban_task_change", args=[task.pk]),
                    task.title,
                    task.get_priority_display(),
                    task.assignee.get_display_name() if task.assignee else "unassigned",
                )
                for task in tasks
            ),
        )


class TaskInline(admin.TabularInline):
    """Read-only: a task is edited (and moved) on its own admin page, through the services."""

    model = Task
    fields = ("title", "assignee", "priority", "due_date", "position", "created_by")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("position", "id")


class BoardAdminForm(forms.ModelForm):
    class Meta:
        model = Board
        fields = ("name", "description", "members")

    def clean_members(self) -> QuerySet:
        members = self.cleaned_data["members"]
        board = self.instance
        outsiders = members.exclude(pk__in=organization_members(board.organization_id).values("pk"))
        if outsiders:
            names = ", ".join(sorted(u.username for u in outsiders))
            raise ValidationError(
                f"Only members of {board.organization} can be on this board (not: {names})."
            )
        if not members.filter(pk=board.created_by_id).exists():
            raise ValidationError("The board's creator cannot be removed.")
        return members


@admin.register(Board)
class BoardAdmin(_ServiceDeleteMixin, admin.ModelAdmin):
    form = BoardAdminForm
    list_display = ("name", "organization", "created_by", "created_at", "member_count")
    list_filter = ("created_at", "organization")
    search_fields = ("name", "description", "created_by__username", "created_by__display_name")
    fields = ("organization", "name", "description", "created_by", "members", "created_at")
    readonly_fields = ("organization", "created_by", "created_at")
    autocomplete_fields = ("members",)
    list_select_related = ("created_by", "organization")
    date_hierarchy = "created_at"
    inlines = (ColumnInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # boards are created in the app, inside an organization

    def get_queryset(self, request: HttpRequest) -> QuerySet[Board]:
        return super().get_queryset(request).annotate(_member_count=Count("members"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, board: Board) -> int:
        return board._member_count

    def save_model(self, request: HttpRequest, obj: Board, form, change: bool) -> None:
        if {"name", "description"} & set(form.changed_data):
            services.update_board(
                board=Board.objects.get(pk=obj.pk),
                name=obj.name,
                description=obj.description,
                updated_by=request.user,
                as_admin=True,
            )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """Members through add_member/remove_member, never the form's raw m2m save."""
        board = form.instance
        wanted = {user.pk: user for user in form.cleaned_data["members"]}
        current = set(board.members.values_list("pk", flat=True))
        for user_id in current - set(wanted):
            user = board.members.get(pk=user_id)
            services.remove_member(board=board, user=user, removed_by=request.user, as_admin=True)
        for user_id in set(wanted) - current:
            services.add_member(
                board=board, username=wanted[user_id].username, added_by=request.user, as_admin=True
            )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_one(self, request: HttpRequest, obj: Board) -> None:
        services.delete_board(board=obj, deleted_by=request.user, as_admin=True)


@admin.register(Column)
class ColumnAdmin(_ServiceDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "board", "position", "task_count")
    list_filter = ("board",)
    search_fields = ("name", "board__name")
    fields = ("board", "name", "position")
    readonly_fields = ("board", "position")
    list_select_related = ("board",)
    inlines = (TaskInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # columns are added on the board page (positions stay dense)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Column]:
        return super().get_queryset(request).annotate(_task_count=Count("tasks"))

    @admin.display(description="Tasks", ordering="_task_count")
    def task_count(self, column: Column) -> int:
        return column._task_count

    def save_model(self, request: HttpRequest, obj: Column, form, change: bool) -> None:
        if "name" in form.changed_data:
            services.rename_column(
                column=Column.objects.select_related("board").get(pk=obj.pk),
                name=obj.name,
                renamed_by=request.user,
                as_admin=True,
            )

    def delete_one(self, request: HttpRequest, obj: Column) -> None:
        services.delete_column(column=obj, deleted_by=request.user, as_admin=True)


class TaskAdminForm(forms.ModelForm):
    """Column and position are a move (kanban.services.move_task): the column must be on the
    task's board. The assignee must be able to read the board."""

    class Meta:
        model = Task
        fields = ("title", "description", "column", "position", "assignee", "priority", "due_date")

    def clean(self) -> dict:
        data = super().clean()
        board_id = self.instance.column.board_id
        column = data.get("column")
        if column is not None and column.board_id != board_id:
            self.add_error("column", "A task can only move to a column on its own board.")
        assignee = data.get("assignee")
        if assignee is not None and not access.can_read_board(assignee, board_id):
            self.add_error("assignee", f"{assignee} is not a member of this board.")
        return data


@admin.register(Task)
class TaskAdmin(_ServiceDeleteMixin, admin.ModelAdmin):
    form = TaskAdminForm
    list_display = ("title", "column", "board", "assignee", "priority", "due_date")
    list_filter = ("priority", "due_date", "column__board")
    search_fields = ("title", "description", "column__name", "column__board__name")
    autocomplete_fields = ("column", "assignee")
    list_select_related = ("column__board", "assignee")
    date_hierarchy = "due_date"
    readonly_fields = ("created_by", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are added on the board page (positions stay dense)

    def save_model(self, request: HttpRequest, obj: Task, form, change: bool) -> None:
        """Field edits through update_task; a new column or position through move_task, which
        renumbers both columns 0..n-1."""
        task = Task.objects.select_related("column__board").get(pk=obj.pk)
        edited = {"title", "description", "assignee", "priority", "due_date"}
        if edited & set(form.changed_data):
            services.update_task(
                task=task,
                title=obj.title,
                description=obj.description,
                assignee=obj.assignee,
                priority=obj.priority,
                due_date=obj.due_date,
                updated_by=request.user,
                as_admin=True,
            )
        if {"column", "position"} & set(form.changed_data):
            services.move_task(
                task=task,
                to_column=obj.column,
                position=obj.position,
                moved_by=request.user,
                as_admin=True,
            )

    def delete_one(self, request: HttpRequest, obj: Task) -> None:
        services.delete_task(task=obj, deleted_by=request.user, as_admin=True)

    @admin.display(description="Board", ordering="column__board__name")
    def board(self, task: Task) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:kanban_board_change", args=[task.column.board_id]),
            task.column.board.name,
        )
