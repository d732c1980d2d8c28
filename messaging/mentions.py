"""Pure @mention parsing: text in, candidate usernames out. No ORM here; resolving names to
users is a selector scoped to the room's or board's members."""

import re

# A mention is "@" + a Django username (letters, digits and @ . + - _). The "@" must not follow
# a character that can be part of a username, so "bob@example.com" mentions nobody.
MENTION_RE = re.compile(r"(?<![\w.@+-])@([\w.@+-]+)")


def extract_mentions(text: str) -> list[str]:
    """Lower-cased usernames mentioned in `text`, first occurrence order, no duplicates.

    A trailing "." (end of sentence) is not part of the name; ",", "!" and "?" never are.
    """
    seen: dict[str, None] = {}
    for match in MENTION_RE.finditer(text or ""):
        name = match.group(1).rstrip(".")
        if name:
            seen.setdefault(name.lower(), None)
    return list(seen)
