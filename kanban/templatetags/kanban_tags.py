"""Template helpers for the card JSON the kanban pages render (kanban.realtime.card)."""

from __future__ import annotations

import datetime

from django import template

register = template.Library()

PRIORITY_BADGES = {
    "urgent": "text-bg-danger",
    "high": "text-bg-warning",
    "low": "text-bg-secondary",
}


@register.filter
def isodate(value: str | None) -> datetime.date | None:
    """'2026-11-30' -> a date, for the |date filter."""
    return datetime.date.fromisoformat(value) if value else None


@register.filter
def priority_badge(priority: str) -> str:
    """The badge class of a priority (static/js/lib/card.js has the same table)."""
    return PRIORITY_BADGES.get(priority, "text-bg-primary")
