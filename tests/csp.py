"""Checks of a page against a strict Content-Security-Policy, shared by the CSP tests and the
API schema tests: the response's policy, and what in its HTML a strict policy would block."""

from __future__ import annotations

import re
from html.parser import HTMLParser

UNSAFE_SCRIPT_SOURCES = {
    "'unsafe-inline'",
    "'unsafe-eval'",
    "*",
    "data:",
    "http:",
    "https:",
    "blob:",
}


def parse_csp(header: str) -> dict[str, list[str]]:
    policy = {}
    for part in header.split(";"):
        tokens = part.split()
        if tokens:
            policy[tokens[0].lower()] = tokens[1:]
    return policy


def assert_strict_policy(response) -> None:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    policy = parse_csp(header)
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src, header
    assert not UNSAFE_SCRIPT_SOURCES & set(script_src), header
    assert policy.get("object-src") == ["'none'"], header
    assert policy.get("base-uri") in (["'self'"], ["'none'"]), header
    assert policy.get("frame-ancestors") == ["'none'"], header
    assert policy.get("form-action") == ["'self'"], header
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


class ScriptAudit(HTMLParser):
    """Collects what a strict CSP would block or what would need 'unsafe-inline'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if "src" not in values and (values.get("type") or "").lower() != "application/json":
                self.problems.append(f"inline <script> at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}> line {self.getpos()[0]}")
            is_url = name.lower() in ("href", "src", "action", "formaction")
            if is_url and value and re.match(r"\s*javascript:", value, re.IGNORECASE):
                self.problems.append(f"javascript: URL on <{tag}> line {self.getpos()[0]}")


def audit(html: str) -> ScriptAudit:
    parser = ScriptAudit()
    parser.feed(html)
    parser.close()
    return parser
