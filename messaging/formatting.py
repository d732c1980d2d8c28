"""Markdown for messages and comments: text in, safe HTML out. No ORM here.

A maintained parser (markdown-it-py, CommonMark) with raw HTML off and bare URLs auto-linked
renders a small subset (emphasis, strike-through, code, quotes, lists, links); an allow-list
sanitizer (nh3) then cleans the result, so even a parser bug cannot hand the browser a script,
an event handler or a `javascript:` URL. The services render once, when the text is saved or
edited, and store the HTML beside the text; clients insert only that HTML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_inline import StateInline

from messaging.mentions import MENTION_RE

LINK_REL = "noopener noreferrer nofollow"

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "span",
}  # fmt: skip
# No free-text attributes (no title): a tag then never holds a quote or ">" of the user's, so
# `_escape_quotes` can tell text from tags.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "ol": {"start"}, "*": set()}
ALLOWED_CLASSES = {"span": {"mention", "mention-me"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _mention(state: StateInline, silent: bool) -> bool:
    """Inline rule: `@name` becomes a highlighted span when `name` is one of the people the
    services resolved (`env["mentions"]`); unknown names stay plain text."""
    if state.src[state.pos] != "@":
        return False
    before = state.src[state.pos - 1] if state.pos > 0 else " "
    if before.isalnum() or before in "_.@+-":
        return False
    match = MENTION_RE.match(state.src, state.pos)
    if match is None:
        return False
    name = match.group(1).rstrip(".")
    if name.lower() not in state.env.get("mentions", ()):
        return False
    if not silent:
        token = state.push("mention", "span", 0)
        token.content = name
    state.pos += 1 + len(name)
    return True


def _render_mention(self, tokens, idx, options, env) -> str:
    name = escapeHtml(tokens[idx].content)
    return f'<span class="mention">@{name}</span>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    md.enable(["linkify", "strikethrough"])
    # No images (a tracking pixel or a huge download in everyone's log) and no headings.
    # "entity" off too: text someone typed as "&lt;" stays those four characters.
    md.disable(["image", "heading", "lheading", "html_block", "html_inline", "entity"])
    md.inline.ruler.before("emphasis", "mention", _mention)
    md.add_render_rule("mention", _render_mention)
    md.validateLink = _safe_link
    return md


def _safe_link(url: str) -> bool:
    """Links the parser may emit: http(s), mailto, or relative (nh3 checks again)."""
    lowered = url.strip().lower()
    if ":" not in lowered.split("/")[0]:
        return True
    return lowered.startswith(("http:", "https:", "mailto:"))


_TAG = re.compile(r"(<[^>]*>)")


def _escape_quotes(html: str) -> str:
    """Quotes in text as entities, as Django's escaping writes them: the same characters, and
    text never looks like an attribute breakout to anything that scans the page."""
    parts = _TAG.split(html)
    for i in range(0, len(parts), 2):  # even parts are text, odd parts are tags
        parts[i] = parts[i].replace('"', "&quot;").replace("'", "&#x27;")
    return "".join(parts)


_PARSER = _parser()  # built once; rendering keeps its state in `env`


def sanitize(html: str) -> str:
    """The allow-list: our tags only, links forced to open in a new tab without an opener."""
    return _escape_quotes(_clean(html))


def _clean(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def render_markdown(text: str, *, mentions: Iterable[str] = ()) -> str:
    """Cleaned HTML for `text`; `mentions` are the (resolved) usernames to highlight."""
    env = {"mentions": frozenset(name.lower() for name in mentions)}
    return sanitize(_PARSER.render(text or "", env)).strip()
