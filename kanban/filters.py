"""The board page's card filters, as a pure function over card JSON (kanban.realtime.card).

static/js/lib/filters.js implements the same rules over the same JSON, so a card that
arrives live is shown or hidden exactly as the server would render it. The filters live in the
URL (?assignee=me&label=3&due=overdue&q=launch), so a filtered board can be shared.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

DUE_CHOICES = (("overdue", "Overdue"), ("week", "Due this week"))


@dataclass(frozen=True)
class CardFilter:
    assignee: str = ""  # "", "me", "none" or a user id
    label: str = ""  # "" or a label id
    due: str = ""  # "", "overdue" or "week"
    q: str = ""  # text contained in the title, case-insensitive

    @classmethod
    def from_query(cls, params: Any) -> CardFilter:
        """From request.GET; unknown values are dropped rather than refused."""
        assignee = params.get("assignee", "").strip()
        if assignee not in ("me", "none") and not assignee.isdigit():
            assignee = ""
        label = params.get("label", "").strip()
        due = params.get("due", "").strip()
        return cls(
            assignee=assignee,
            label=label if label.isdigit() else "",
            due=due if due in dict(DUE_CHOICES) else "",
            q=params.get("q", "").strip()[:200],
        )

    @property
    def active(self) -> bool:
        return bool(self.assignee or self.label or self.due or self.q)


def week_end(today: datetime.date) -> datetime.date:
    """The Sunday ending today's (ISO, Monday-first) week."""
    return today + datetime.timedelta(days=6 - today.weekday())


def matches(card: dict[str, Any], f: CardFilter, *, user_id: int, today: datetime.date) -> bool:
    """Whether the card passes every active filter."""
    assignee = card.get("assignee")
    if f.assignee == "me" and (assignee is None or assignee["id"] != user_id):
        return False
    if f.assignee == "none" and assignee is not None:
        return False
    if f.assignee.isdigit() and (assignee is None or assignee["id"] != int(f.assignee)):
        return False
    if f.label and int(f.label) not in {label["id"] for label in card.get("labels", [])}:
        return False
    if f.due:
        due = card.get("due_date")
        if not due:
            return False
        due_date = datetime.date.fromisoformat(due)
        if f.due == "overdue" and not due_date < today:
            return False
        if f.due == "week" and not today <= due_date <= week_end(today):
            return False
    return not f.q or f.q.casefold() in card.get("title", "").casefold()
