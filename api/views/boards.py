"""Boards, columns, tasks and task comments over the API: the kanban services and the
comment posting service, found through the access selectors (404 for what one cannot read).
Any board member changes columns and tasks; editing or deleting the board itself is for its
managers (403 for the other members)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.access import readable_organizations
from accounts.models import User
from kanban import access, selectors, services
from kanban import realtime as board_realtime
from kanban.models import Board, Column, Label, Task
from messaging import ratelimit
from messaging.selectors import conversations as conversation_selectors
from messaging.services.posting import post_task_comment

from .. import serializers as s
from .base import CURSOR_PARAMETERS, ApiView, admitted, check_rate, page_of, paginate, validated

# A position past the end; move_task clamps it to "last".
BOTTOM = 2**31 - 1


def board_json(board: Board) -> dict[str, Any]:
    """`board` from `board_summaries_for` (counts annotated)."""
    return {
        "id": board.pk,
        "name": board.name,
        "description": board.description,
        "organization": board.organization.slug,
        "created_by": board.created_by.username,
        "created_at": board.created_at,
        "task_count": board.task_count,
        "member_count": board.member_count,
    }


def board_detail(user: User, board: Board) -> dict[str, Any]:
    state = selectors.board_state(board)
    return {
        "id": board.pk,
        "name": board.name,
        "description": board.description,
        "organization": board.organization.slug,
        "version": state["version"],
        "can_manage": access.can_manage_board(user, board),
        "columns": state["columns"],
        "tasks": state["tasks"],
        "labels": state["labels"],
        "members": state["members"],
    }


def column_json(column: Column) -> dict[str, Any]:
    column.refresh_from_db(fields=["name", "position"])
    return {
        "id": column.pk,
        "name": column.name,
        "position": column.position,
        "task_ids": board_realtime.column_order(column.pk)["task_ids"],
    }


def task_json(task_id: int) -> dict[str, Any]:
    return board_realtime.card(selectors.task_cards().get(pk=task_id))


def _assignee(board: Board, username: str | None) -> User | None:
    if not username:
        return None
    user = (
        selectors.board_members(board).filter(username__iexact=username.strip().lstrip("@")).first()
    )
    if user is None:
        raise ValidationError({"assignee": f"No member of this board is called @{username}."})
    return user


def _labels(board: Board, ids: list[int]) -> list[Label]:
    labels = list(board.labels.filter(pk__in=ids))
    if len(labels) != len(set(ids)):
        raise ValidationError({"labels": "A task can only carry labels of its own board."})
    return labels


# --- boards -------------------------------------------------------------------------------


class BoardListView(ApiView):
    @extend_schema(operation_id="boards_list", responses=s.BoardSerializer(many=True))
    def get(self, request):
        return Response([board_json(b) for b in selectors.board_summaries_for(request.user)])

    @extend_schema(
        operation_id="boards_create",
        request=s.BoardCreateSerializer,
        responses={201: s.BoardDetailSerializer},
    )
    def post(self, request):
        data = validated(s.BoardCreateSerializer, request.data)
        organization = None
        if data.get("organization"):
            organization = (
                readable_organizations(request.user).filter(slug=data["organization"]).first()
            )
            if organization is None:
                raise ValidationError({"organization": "You are in no organization by that name."})
        board = services.create_board(
            name=data["name"],
            description=data["description"],
            created_by=request.user,
            organization=organization,
        )
        board = selectors.get_board_for(request.user, board.pk)
        return Response(board_detail(request.user, board), status=status.HTTP_201_CREATED)


class BoardDetailView(ApiView):
    @extend_schema(
        operation_id="boards_retrieve",
        summary="A board with its columns, tasks, labels and members",
        responses=s.BoardDetailSerializer,
    )
    def get(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        return Response(board_detail(request.user, board))

    @extend_schema(
        operation_id="boards_partial_update",
        summary="Rename the board (its creator and the organization's owners and admins)",
        request=s.BoardUpdateSerializer,
        responses=s.BoardDetailSerializer,
    )
    def patch(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        data = validated(s.BoardUpdateSerializer, request.data)
        services.update_board(
            board=board,
            name=data.get("name", board.name),
            description=data.get("description", board.description),
            updated_by=request.user,
        )
        return Response(board_detail(request.user, board))

    @extend_schema(operation_id="boards_destroy", responses={204: None})
    def delete(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        services.delete_board(board=board, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- columns ------------------------------------------------------------------------------


class BoardColumnsView(ApiView):
    @extend_schema(operation_id="boards_columns_list", responses=s.ColumnSerializer(many=True))
    def get(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        return Response(selectors.board_state(board)["columns"])

    @extend_schema(
        operation_id="boards_columns_create",
        summary="Add a column at the right end",
        request=s.ColumnCreateSerializer,
        responses={201: s.ColumnSerializer},
    )
    def post(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        data = validated(s.ColumnCreateSerializer, request.data)
        column = services.create_column(board=board, name=data["name"], created_by=request.user)
        return Response(column_json(column), status=status.HTTP_201_CREATED)


class ColumnDetailView(ApiView):
    @extend_schema(
        operation_id="columns_partial_update",
        summary="Rename (name) and/or move (position) a column",
        request=s.ColumnUpdateSerializer,
        responses=s.ColumnSerializer,
    )
    def patch(self, request, column_id: int):
        column = selectors.get_column_for(request.user, column_id)
        data = validated(s.ColumnUpdateSerializer, request.data)
        if "name" in data:
            column = services.rename_column(
                column=column, name=data["name"], renamed_by=request.user
            )
        if "position" in data:
            column = services.move_column(
                column=column, position=data["position"], moved_by=request.user
            )
        return Response(column_json(column))

    @extend_schema(
        operation_id="columns_destroy",
        summary="Delete an empty column",
        responses={204: None},
    )
    def delete(self, request, column_id: int):
        column = selectors.get_column_for(request.user, column_id)
        services.delete_column(column=column, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- tasks --------------------------------------------------------------------------------


class BoardTasksView(ApiView):
    @extend_schema(
        operation_id="boards_tasks_list",
        summary="The board's tasks, column by column, in order",
        responses=s.TaskSerializer(many=True),
    )
    def get(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        tasks = selectors.task_cards(Task.objects.filter(column__board=board)).order_by(
            "column__position", "column_id", "position", "pk"
        )
        return Response([board_realtime.card(task) for task in tasks])

    @extend_schema(
        operation_id="boards_tasks_create",
        summary="Add a task at the bottom of a column",
        request=s.TaskCreateSerializer,
        responses={201: s.TaskSerializer},
    )
    def post(self, request, board_id: int):
        board = selectors.get_board_for(request.user, board_id)
        data = validated(s.TaskCreateSerializer, request.data)
        column = Column.objects.filter(pk=data["column"], board=board).first()
        if column is None:
            raise ValidationError({"column": "No such column on this board."})
        task = services.create_task(
            column=column,
            title=data["title"],
            description=data["description"],
            assignee=_assignee(board, data["assignee"]),
            priority=data["priority"],
            due_date=data["due_date"],
            labels=_labels(board, data["labels"]),
            created_by=request.user,
        )
        return Response(task_json(task.pk), status=status.HTTP_201_CREATED)


class TaskDetailView(ApiView):
    @extend_schema(operation_id="tasks_retrieve", responses=s.TaskSerializer)
    def get(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        return Response(task_json(task.pk))

    @extend_schema(
        operation_id="tasks_partial_update",
        summary="Change any of a task's fields (labels: the full list)",
        request=s.TaskUpdateSerializer,
        responses=s.TaskSerializer,
    )
    def patch(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        board = task.column.board
        data = validated(s.TaskUpdateSerializer, request.data)
        services.update_task(
            task=task,
            title=data.get("title", task.title),
            description=data.get("description", task.description),
            assignee=(_assignee(board, data["assignee"]) if "assignee" in data else task.assignee),
            priority=data.get("priority", task.priority),
            due_date=data.get("due_date", task.due_date),
            labels=_labels(board, data["labels"]) if "labels" in data else None,
            updated_by=request.user,
        )
        return Response(task_json(task.pk))

    @extend_schema(operation_id="tasks_destroy", responses={204: None})
    def delete(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        services.delete_task(task=task, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskMoveView(ApiView):
    @extend_schema(
        operation_id="tasks_move",
        summary="Move a task to a column (of its board) and position",
        request=s.TaskMoveSerializer,
        responses=s.TaskSerializer,
    )
    def post(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        data = validated(s.TaskMoveSerializer, request.data)
        to_column = selectors.get_column_for(request.user, data["column"])
        task = services.move_task(
            task=task,
            to_column=to_column,
            position=data.get("position", BOTTOM),
            moved_by=request.user,
        )
        return Response(task_json(task.pk))


# --- task comments ------------------------------------------------------------------------


def comment_items(comments: list) -> list[dict[str, Any]]:
    return [s.comment_json(p) for p in conversation_selectors.comment_payloads(comments)]


class TaskCommentsView(ApiView):
    @extend_schema(
        operation_id="tasks_comments_list",
        summary="A task's comments, newest first",
        parameters=CURSOR_PARAMETERS,
        responses=page_of(s.CommentSerializer, "PaginatedCommentList"),
    )
    def get(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        queryset = (
            task.thread_comments.select_related("author")
            .prefetch_related(
                Prefetch("mentioned_users", queryset=User.objects.only("pk", "username"))
            )
            .all()
        )
        return paginate(self, queryset, comment_items)

    @extend_schema(
        operation_id="tasks_comments_create",
        request=s.CommentCreateSerializer,
        responses={201: s.CommentSerializer},
    )
    def post(self, request, task_id: int):
        task = selectors.get_task_for(request.user, task_id)
        check_rate(bucket=ratelimit.COMMENT, user_id=request.user.pk)
        data = validated(s.CommentCreateSerializer, request.data)
        with admitted():
            comment = post_task_comment(
                task=task,
                author=request.user,
                content=data["content"],
                client_id=data["client_id"],
                attachment_ids=data["attachment_ids"],
            )
        comment.refresh_from_db()
        return Response(comment_items([comment])[0], status=status.HTTP_201_CREATED)
