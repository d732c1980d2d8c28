"""Admin for boards, columns and tasks.

Django inlines follow one foreign key and do not nest, and a task reaches its board only
through its column (Board <- Column <- Task). So the board page shows its columns inline, each
with a read-only list of its tasks linking to their admin pages; the column page has the
editable task inline; and tasks have their own searchable list with a board filter.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .models import Board, Column, Task


class ColumnInline(admin.TabularInline):
    model = Column
    fields = ("name", "position", "tasks_in_column")
    readonly_fields = ("tasks_in_column",)
    extra = 0
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
    model = Task
    fields = ("title", "assignee", "priority", "due_date", "position", "created_by")
    autocomplete_fields = ("assignee", "created_by")
    extra = 0
    show_change_link = True
    ordering = ("position", "id")


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ("name", "created_by", "created_at", "member_count")
    list_filter = ("created_at",)
    search_fields = ("name", "description", "created_by__username", "created_by__display_name")
    autocomplete_fields = ("created_by", "members")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    inlines = (ColumnInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Board]:
        return super().get_queryset(request).annotate(_member_count=Count("members"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, board: Board) -> int:
        return board._member_count


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    list_display = ("name", "board", "position", "task_count")
    list_filter = ("board",)
    search_fields = ("name", "board__name")
    autocomplete_fields = ("board",)
    list_select_related = ("board",)
    inlines = (TaskInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Column]:
        return super().get_queryset(request).annotate(_task_count=Count("tasks"))

    @admin.display(description="Tasks", ordering="_task_count")
    def task_count(self, column: Column) -> int:
        return column._task_count


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "column", "board", "assignee", "priority", "due_date")
    list_filter = ("priority", "due_date", "column__board")
    search_fields = ("title", "description", "column__name", "column__board__name")
    autocomplete_fields = ("column", "assignee", "created_by")
    list_select_related = ("column__board", "assignee")
    date_hierarchy = "due_date"
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Board", ordering="column__board__name")
    def board(self, task: Task) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:kanban_board_change", args=[task.column.board_id]),
            task.column.board.name,
        )
