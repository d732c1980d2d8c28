"""XSS corpus, Markdown vectors: text that tries to make the Markdown renderer emit a script,
an event handler or a dangerous URL. Each is posted through the real service (so it is
rendered the way users' messages are) and checked in the stored html, in the room page, in
the history JSON and in an edit; see test_security_xss_browser.py for the browser side
(the vectors live in tests/xss_corpus.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from messaging.formatting import render_markdown
from messaging.services.editing import edit_chat_message
from messaging.services.posting import post_chat_message
from tests.factories import BoardFactory, ChatRoomFactory
from tests.xss_corpus import MARKDOWN_VECTORS

pytestmark = pytest.mark.django_db

VECTORS = MARKDOWN_VECTORS

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "span",
}  # fmt: skip


class Audit(HTMLParser):
    """Every tag and attribute in a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_clean(html: str) -> None:
    audit = Audit()
    audit.feed(html)
    for tag, attrs in audit.tags:
        assert tag in ALLOWED_TAGS, f"tag <{tag}> in {html!r}"
        for name, _value in attrs.items():
            assert not name.startswith("on"), f"handler {name} in {html!r}"
            assert name in {"href", "target", "rel", "class", "start"}, f"{name} in {html!r}"
        href = attrs.get("href")
        if href is not None:
            normalized = re.sub(r"[\s\x00-\x1f]", "", href).lower()
            assert normalized.startswith(("http://", "https://", "mailto:")), href
            assert attrs.get("rel") == "noopener noreferrer nofollow"
            assert attrs.get("target") == "_blank"


@pytest.mark.parametrize("vector", VECTORS)
def test_markdown_vector_renders_clean(vector):
    assert_clean(render_markdown(vector, mentions=["bob"]))


@pytest.fixture
def room(alice, bob):
    board = BoardFactory(created_by=alice, members=[bob])
    return ChatRoomFactory(board=board, created_by=alice, members=[bob])


@pytest.mark.parametrize("vector", VECTORS)
def test_markdown_vector_is_clean_in_page_history_and_edit(client_for, room, alice, vector):
    message = post_chat_message(room=room, author=alice, content=f"hello {vector}")
    assert_clean(message.html)
    client = client_for(alice)
    page = client.get(reverse("messaging:room_detail", args=[room.pk])).content.decode()
    audit = Audit()
    audit.feed(page.split('id="chat-log"', 1)[1].split("</template>", 1)[0])
    for tag, attrs in audit.tags:
        assert tag not in {"script", "img", "svg", "iframe", "form"}, tag
        assert not any(name.startswith("on") for name in attrs), attrs
        href = re.sub(r"[\s\x00-\x1f]", "", attrs.get("href") or "").lower()
        assert not href.startswith(("javascript:", "data:", "vbscript:")), href
    history = client.get(reverse("messaging:room_history", args=[room.pk])).json()
    assert_clean(history["messages"][-1]["html"])
    edited = edit_chat_message(message=message, editor=alice, content=f"edited {vector}")
    assert_clean(edited.html)
