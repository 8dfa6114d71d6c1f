"""Stage reports show what people typed as text: markdown cannot be injected into them."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from flows.publishing import md_block, md_inline

RENDER = MarkdownIt("commonmark").enable("table")
ATTACKS = [
    "![tracker](http://evil.example/x.png)",
    "[click here](http://evil.example)",
    "<script>alert(1)</script>",
    "# Approved by the mayor",
    "| forged | cell |\n|---|---|\n| a | b |",
    "**bold** _it_ `code` ~~gone~~",
    "line\n\n- injected item\n> quote",
    "&lt;b&gt; and &#x3C;",
    "http://evil.example <http://evil.example>",
]


def _tags(rendered: str) -> set[str]:
    return set(re.findall(r"</?([a-z0-9]+)", rendered))


def _text(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


#: Text the policy lets through (decisions.text): no controls but tab and newline, no bidi.
STORED_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    )
    | st.sampled_from("\n\t"),
    max_size=80,
)


def _words(text: str) -> str:
    return " ".join(text.split())


@given(st.one_of(st.sampled_from(ATTACKS), STORED_TEXT))
def test_an_answer_inside_a_report_list_renders_as_its_own_text_and_nothing_else(
    text: str,
) -> None:
    """A list item holding a person's text renders to one list item whose text is what they
    typed (lines joined by " / "): no link, image, HTML, heading, table or new item."""
    rendered = RENDER.render("- " + md_inline(text))
    expected = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    if not expected:
        return
    assert _tags(rendered) <= {"ul", "li"}, rendered
    assert _words(_text(rendered)) == _words(expected)


def test_a_block_keeps_its_lines_and_renders_no_markup() -> None:
    """A proposal's text keeps its line breaks and shows headings and links as typed."""
    rendered = RENDER.render(md_block("1. Scope\n# not a heading\n[a](http://x)"))
    assert _tags(rendered) <= {"p", "br"}, rendered
    assert "# not a heading" in _text(rendered) and "[a](http://x)" in _text(rendered)
