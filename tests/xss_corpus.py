"""The XSS corpus: hostile payloads, where they are stored, and which page must show which
field as text. Shared by the server-side (test_security_xss.py) and browser
(test_security_xss_browser.py) XSS tests."""

from __future__ import annotations

from tests.security_routes import World

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)",
    "</textarea><script>alert(1)</script>",
    "{{7*7}}{% now 'Y' %}",
    '<a href="javascript:alert(1)">x</a>',
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus '",
    "</script><script>alert(1)</script>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "&lt;img src=x onerror=alert(1)&gt;",  # already-escaped text must not be un-escaped
]

# Which tagged fields each main page must show as text.
EXPECTED_TEXT = {
    "kanban:board_list": ["board-name"],
    "kanban:board_detail": ["board-name", "board-desc", "column", "task-title", "assignee"],
    "kanban:task_detail": ["task-title", "task-desc", "comment", "commenter"],
    "kanban:board_members": ["member"],
    "messaging:inbox": ["room-name", "message"],
    "messaging:room_list": ["room-name"],
    "messaging:room_detail": ["room-name", "room-desc", "message", "member"],
    "messaging:task_comments": ["task-title", "comment"],
    "messaging:notifications": ["notification"],
}


def tagged(field: str, payload: str) -> str:
    return f"[{field}]{payload}"


def hostile_world(payload: str, alice, bob, carol) -> World:
    for user, field in ((alice, "owner"), (bob, "member"), (carol, "member")):
        user.display_name = tagged(field, payload)[:80]
        user.save(update_fields=["display_name"])
    world = World.build(alice, [bob, carol])
    world.board.name = tagged("board-name", payload)
    world.board.description = tagged("board-desc", payload)
    world.board.save()
    world.column.name = tagged("column", payload)[:80]
    world.column.save()
    world.task.title = tagged("task-title", payload)
    world.task.description = tagged("task-desc", payload)
    world.task.assignee = bob
    world.task.save()
    world.room.name = tagged("room-name", payload)[:80]
    world.room.description = tagged("room-desc", payload)
    world.room.save()
    world.message.content = tagged("message", payload)
    world.message.save()
    world.comment.content = tagged("comment", payload)
    world.comment.save()
    world.notification.text = tagged("notification", payload)
    world.notification.save()
    world.attachment.name = tagged("attachment", payload)[:255]  # issue 12: a file's name
    world.attachment.save()
    return world


# Markdown that tries to make the renderer emit a script, an event handler or a dangerous URL
# (tests/test_security_xss_markdown.py, and live in a browser in test_security_xss_browser.py).
MARKDOWN_VECTORS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "`<script>alert(1)</script>`",
    "``<img src=x onerror=alert(1)>``",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "***<img src=x onerror=alert(1)>***",
    "**_~~<svg onload=alert(1)>~~_**",
    "[<img src=x onerror=alert(1)>](https://example.com)",
    '[x](https://example.com "title\\" onmouseover=\\"alert(1)")',
    "https://example.com/<script>alert(1)</script>",
    'www.example.com/"onmouseover="alert(1)',
    'https://example.com/?q="><script>alert(1)</script>',
    "![x](javascript:alert(1))",
    '![x](https://example.com/x.png" onerror="alert(1))',
    "<a href='javascript:alert(1)'>x</a>",
    "[a]: javascript:alert(1)\n\n[a]",
    "> <iframe src=javascript:alert(1)>",
    "- <form action=javascript:alert(1)><button>x</button></form>",
]
