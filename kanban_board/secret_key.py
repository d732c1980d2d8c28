"""A secret key kept in a local file, made once: what `make run` uses when DJANGO_SECRET_KEY
is not set, so a fresh clone can serve with DEBUG off without anyone inventing a key.

The file (`.secret_key` by default, git-ignored) is created atomically with mode 0600; when
several processes start at once, the first one's key wins and the others read it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def local_secret_key(path: Path) -> str:
    """The key stored in `path`, creating the file with a fresh random key if it is missing."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(50) + "\n")
    try:
        os.link(temp, path)  # fails if another process got there first: use theirs
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return path.read_text(encoding="ascii").strip()
