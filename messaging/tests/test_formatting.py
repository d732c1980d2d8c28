"""Markdown rendering: the subset we support, and what it must never produce."""

from __future__ import annotations

import pytest

from messaging.formatting import render_markdown

REL = 'target="_blank" rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("**bold**", "<p><strong>bold</strong></p>"),
        ("_it_", "<p><em>it</em></p>"),
        ("~~gone~~", "<p><s>gone</s></p>"),
        ("`x < y`", "<p><code>x &lt; y</code></p>"),
        ("```\nprint(1)\n```", "<pre><code>print(1)\n</code></pre>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
        ("1. a\n2. b", "<ol>\n<li>a</li>\n<li>b</li>\n</ol>"),
        ("[site](https://example.com)", f'<p><a href="https://example.com" {REL}>site</a></p>'),
        ("see https://example.com", f'<p>see <a href="https://example.com" {REL}>https://example.com</a></p>'),
        ("line\nbreak", "<p>line<br>\nbreak</p>"),
        ("# not a heading", "<p># not a heading</p>"),
        ("it's \"quoted\"", "<p>it&#x27;s &quot;quoted&quot;</p>"),
        ("&lt;b&gt;", "<p>&amp;lt;b&amp;gt;</p>"),  # typed entities stay as typed
    ],
)  # fmt: skip
def test_supported_markdown(text, html):
    assert render_markdown(text) == html


def test_only_resolved_mentions_are_highlighted():
    html = render_markdown("hi @bob and @nobody, mail bob@example.com", mentions=["bob"])
    assert '<span class="mention">@bob</span>' in html
    assert "@nobody" in html and 'mention">@nobody' not in html
    assert 'mention">@example' not in html


def test_mention_inside_code_is_not_highlighted():
    assert 'class="mention"' not in render_markdown("`@bob`", mentions=["bob"])


def test_images_become_links_never_img_tags():
    html = render_markdown("![pixel](https://tracker.example/p.gif)")
    assert "<img" not in html
