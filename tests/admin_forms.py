"""Submit a Django admin change form the way a browser would: read the rendered page, keep
every field's current value (hidden inline management forms included), change some, post."""

from __future__ import annotations

from html.parser import HTMLParser


class _FormFields(HTMLParser):
    """Collects name -> list of values from the page's main form (`<form id="..._form">`)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs_list) -> None:
        attrs = dict(attrs_list)
        if tag == "form" and (attrs.get("id") or "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.fields.setdefault(name, []).append(
                attrs.get("value") or ("on" if kind == "checkbox" else "")
            )
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea:
                self.fields[self._textarea][0] = self.fields[self._textarea][0].lstrip("\n")
            self._textarea = None
        elif tag == "form":
            self._in_form = False


def change_form_data(html: str, **changes) -> dict[str, list[str]]:
    """The admin change form's current data with `changes` applied (a list for a multiple
    select). Ready for a POST."""
    parser = _FormFields()
    parser.feed(html)
    data = dict(parser.fields)
    for name, value in changes.items():
        data[name] = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return data
