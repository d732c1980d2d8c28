"""Template helpers for the card JSON the kanban pages render (kanban.realtime.card)."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.utils.html import json_script
from django.utils.safestring import SafeString, mark_safe

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


@register.filter
def state_json(value: Any, element_id: str) -> SafeString:
    """Like |json_script, and apostrophes are escaped too (as \\u0027), so no user text
    appears verbatim in the page even inside the JSON data block."""
    return mark_safe(json_script(value, element_id).replace("'", "\\u0027"))
