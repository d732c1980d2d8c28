"""Snippet HTML built safely: the engine's excerpt is escaped as text first, and only then
are its match markers (characters the index never stores) turned into <mark> tags. Nothing a
user wrote can become markup, whatever the engine returned."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .engine import MARK_END, MARK_START

MAX_SNIPPET_CHARS = 400


def render_snippet(raw: str, *, truncated: bool = False) -> SafeString:
    """`raw` with MARK_START/MARK_END around matches -> HTML with <mark>...</mark>."""
    text = " ".join(raw.split())
    if len(text) > MAX_SNIPPET_CHARS:
        text, truncated = text[:MAX_SNIPPET_CHARS], True
    out: list[str] = []
    open_mark = False
    for piece in _split(text):
        if piece == MARK_START:
            if not open_mark:
                out.append("<mark>")
                open_mark = True
        elif piece == MARK_END:
            if open_mark:
                out.append("</mark>")
                open_mark = False
        else:
            out.append(escape(piece))
    if open_mark:
        out.append("</mark>")
    if truncated:
        out.append("…")
    return mark_safe("".join(out))


def _split(text: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for char in text:
        if char in (MARK_START, MARK_END):
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append(char)
        else:
            current.append(char)
    if current:
        pieces.append("".join(current))
    return pieces
