"""Look-alike usernames: the Unicode confusable *skeleton* of UTS #39 (TR39, section 4).

Two strings are confusable when their skeletons are equal: "alice" spelt with a Cyrillic a
(U+0430) or a Greek alpha has the skeleton of "alice", and "rn" that of "m". The data is Unicode's
confusables.txt as shipped by the maintained `confusable-homoglyphs` package (its JSON lists,
for every character, what it is confusable with: a source names its prototype, a prototype
its sources). From it we rebuild TR39's one-way mapping: single characters that are
confusable form classes (each class is a prototype and its sources), and each class maps to
its lowest code point (an ASCII character where the class has one); a character whose
prototype is several characters (m -> rn) maps to them.

skeleton(X) = NFD(map every character of NFD(X) to its prototype). Usernames are also
compared case-insensitively: `lookalike_keys` gives the skeleton of the name as typed and of
its case-folded form, and two names clash when any of their keys are equal.
"""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from importlib.resources import files

_BIDI_MARKS = "\u200e\u200f"  # the package wraps right-to-left characters in these


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    data = json.loads(
        files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    )
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        parent.setdefault(c, c)
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    multi: dict[str, str] = {}
    for key, entries in data.items():
        if len(key) != 1:  # a multi-character prototype listing its sources: seen from them
            continue
        for entry in entries:
            other = entry["c"].strip(_BIDI_MARKS)
            if len(other) == 1:
                a, b = find(key), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the class root is its lowest code point
            elif other:
                multi[key] = other
    mapping = {c: find(c) for c in parent if find(c) != c}
    for source, target in multi.items():
        mapping[source] = "".join(find(c) if c in parent else c for c in target)
    return mapping


def skeleton(text: str) -> str:
    """The TR39 skeleton of `text`."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    mapped = "".join(prototypes.get(c, c) for c in decomposed)
    return unicodedata.normalize("NFD", mapped)


def lookalike_keys(username: str) -> set[str]:
    """Skeletons under which `username` clashes with another name (as typed, and case-folded),
    after the NFKC normalization Django applies to usernames (a fullwidth b is b)."""
    name = unicodedata.normalize("NFKC", username)
    return {skeleton(name), skeleton(name.casefold())}


def lookalike_username_taken(username: str, *, exclude_pk: int | None = None) -> bool:
    """Whether an existing user's name (other than user `exclude_pk`'s, when renaming) looks
    like `username` (confusable skeleton, either case). One pass over the usernames: sign-ups
    are rare and rate-limited; a stored skeleton column would make it an index lookup if the
    user count ever made this slow."""
    from accounts.models import User

    keys = lookalike_keys(username)
    names = User.objects.exclude(pk=exclude_pk) if exclude_pk is not None else User.objects
    return any(
        not keys.isdisjoint(lookalike_keys(name))
        for name in names.values_list("username", flat=True).iterator(chunk_size=2000)
    )
