"""Recording task activity. Called only by the kanban services, inside the transaction of the
change they record, so an entry exists exactly when its change does."""

from __future__ import annotations

from typing import Any

from accounts.models import User

from .models import Task, TaskActivity

Kind = TaskActivity.Kind


def record(*, task: Task, actor: User, kind: str, data: dict[str, Any]) -> TaskActivity:
    return TaskActivity.objects.create(task=task, actor=actor, kind=kind, data=data)


def activity_text(kind: str, data: dict[str, Any]) -> str:
    """What the entry says after the actor's name ("moved this from To Do to Done")."""
    if kind == Kind.CREATED:
        return f"created this in {data.get('column', '?')}"
    if kind == Kind.MOVED:
        return f"moved this from {data.get('from', '?')} to {data.get('to', '?')}"
    if kind == Kind.ASSIGNED:
        to = data.get("to")
        return f"assigned this to {to}" if to else "unassigned this"
    if kind == Kind.DUE_DATE:
        to = data.get("to")
        return f"set the due date to {to}" if to else "removed the due date"
    if kind == Kind.LABELS:
        parts = []
        if data.get("added"):
            parts.append("added " + ", ".join(data["added"]))
        if data.get("removed"):
            parts.append("removed " + ", ".join(data["removed"]))
        return "changed labels: " + "; ".join(parts) if parts else "changed labels"
    if kind == Kind.TITLE:
        return f"renamed this from “{data.get('from', '')}” to “{data.get('to', '')}”"
    return kind


def _name(user: User | None) -> str | None:
    return user.get_display_name() if user else None


def record_field_changes(*, before: Task, after: Task, actor: User) -> list[TaskActivity]:
    """Entries for the title, assignee and due-date changes between two versions of a task."""
    entries = []
    if before.title != after.title:
        entries.append(
            record(
                task=after,
                actor=actor,
                kind=TaskActivity.Kind.TITLE,
                data={"from": before.title, "to": after.title},
            )
        )
    if before.assignee_id != after.assignee_id:
        entries.append(
            record(
                task=after,
                actor=actor,
                kind=TaskActivity.Kind.ASSIGNED,
                data={"from": _name(before.assignee), "to": _name(after.assignee)},
            )
        )
    if before.due_date != after.due_date:
        entries.append(
            record(
                task=after,
                actor=actor,
                kind=TaskActivity.Kind.DUE_DATE,
                data={
                    "from": before.due_date.isoformat() if before.due_date else None,
                    "to": after.due_date.isoformat() if after.due_date else None,
                },
            )
        )
    return entries
