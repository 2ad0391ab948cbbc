"""Untrusted HTML to safe HTML and to plain text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.extract.text import key
from aggregator.sanitize import (
    clean_text,
    html_to_text,
    http_url,
    links_in,
    safe_html_words,
    sanitize_html,
    shorten,
)

BASE = "https://show.example/feed.xml"


@pytest.mark.parametrize(
    ("dirty", "safe"),
    [
        ("<p>Hi <b>there</b></p>", "<p>Hi <b>there</b></p>"),
        ("<script>alert(1)</script>ok", "ok"),
        ("<style>p{color:red}</style>ok", "ok"),
        ('<iframe src="https://evil.example/"></iframe>ok', "ok"),
        ('<p onclick="x()" style="color:red" class="c" id="i">p</p>', "<p>p</p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener nofollow">x</a>'),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener nofollow">x</a>'),
        ('<a href="data:text/html,x">x</a>', '<a rel="noopener nofollow">x</a>'),
        ('<img src="x" onerror="alert(1)">', '<img src="https://show.example/x">'),
        (
            '<a href="/ep/1" target="_blank" rel="opener">one</a>',
            '<a href="https://show.example/ep/1" rel="noopener nofollow">one</a>',
        ),
        (
            '<a href="mailto:host@show.example">mail</a>',
            '<a href="mailto:host@show.example" rel="noopener nofollow">mail</a>',
        ),
        ("<!-- note --><form><input name=q></form>text", "text"),
        ("<svg><script>alert(1)</script></svg>safe", "safe"),
    ],
)
def test_sanitize(dirty: str, safe: str) -> None:
    assert sanitize_html(dirty, BASE) == safe


def test_relative_urls_are_dropped_without_a_base() -> None:
    assert sanitize_html('<a href="/x">x</a>', None) == '<a rel="noopener nofollow">x</a>'
    assert sanitize_html('<a href="/x">x</a>', "not a url") == '<a rel="noopener nofollow">x</a>'


def test_links_in_sanitised_html() -> None:
    html = sanitize_html(
        '<a title="tricky href=&quot;https://no.example/&quot;" href="https://a.example/?x=1&amp;y=2">a</a>'
        ' <a href="/b">b</a> <a href="https://a.example/?x=1&amp;y=2">again</a>'
        ' <a href="mailto:m@x.example">m</a> <a>none</a>',
        BASE,
    )
    assert links_in(html) == ("https://a.example/?x=1&y=2", "https://show.example/b")


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One Two"),
        ("Line<br>break", "Line break"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("un<b>break</b>able", "unbreakable"),
        ("Fish &amp; chips &lt;3", "Fish & chips <3"),
        ("<script>x()</script><style>p{}</style>kept", "kept"),
        ("a < b and c > d", "a < b and c > d"),
        ("  plain\n\ttext  ", "plain text"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_with_a_limit_reads_only_the_start() -> None:
    light = "<p>" + " ".join(f"<b>w{i}</b>" for i in range(2000)) + "</p>"
    start, whole = html_to_text(light, limit=300), html_to_text(light)
    assert 300 < len(start) < len(whole)
    assert whole.startswith(start[: len(start) - 6])  # the cut may split the last word
    # so much markup that the cut start has too little text: the whole is read
    heavy = "<p>" + " ".join(f"<a href='https://x.example/{i}'>w{i}</a>" for i in range(2000))
    assert html_to_text(heavy, limit=300) == html_to_text(heavy)


def test_shorten_cuts_at_a_word() -> None:
    assert shorten("short", 300) == "short"
    assert shorten("alpha beta gamma delta", 12) == "alpha beta…"
    assert shorten("x" * 20, 10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("value", "base", "url"),
    [
        ("https://a.example/x", None, "https://a.example/x"),
        ("  HTTP://A.example/  ", None, "HTTP://A.example/"),
        ("/x", "https://b.example/feed", "https://b.example/x"),
        ("/x", None, None),
        ("ftp://a.example/", None, None),
        ("https://", None, None),
        ("http://[::1", None, None),
        ("", None, None),
    ],
)
def test_http_url(value: str, base: str | None, url: str | None) -> None:
    assert http_url(value, base) == url


@given(st.text(max_size=60))
def test_clean_text_is_idempotent(value: str) -> None:
    once = clean_text(value)
    assert clean_text(once) == once
    assert once == once.strip()
    assert "  " not in once


@given(
    st.lists(
        st.sampled_from(["&", "amp;", "#38;", "#x26;", "lt;", "&gt", ";", "\u037e", "x", "\x0c"])
    )
)
def test_clean_text_reaches_a_fixed_point_on_entity_soup(parts: list[str]) -> None:
    once = clean_text("".join(parts))
    assert clean_text(once) == once


def test_clean_text_decodes_nested_escapes_in_linear_time() -> None:
    assert clean_text("&" + "amp;" * 100_000 + "lt;b&gt;") == "<b>"


_PIECES = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<b>",
        "</b>",
        "<br>",
        '<a href="https://x.example/?a=1&amp;b=2" title="a > b">',
        "</a>",
        '<img alt="hidden words" src="https://x.example/i.png">',
        "<script>var secret = 1;</script>",
        "<style>p { color: red }</style>",
        "<!-- a comment -->",
        "&amp;",
        "&lt;tag&gt;",
        "&nbsp;",
        "&eacute;",
        "Café",
        " ",
        "\n",
        "word",
        "Ünïcode",
        "\x0c",
        "<",
        ">",
    ]
)


@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=25).map("".join))
def test_safe_html_words_has_the_text_of_html_to_text_bar_spacing(fragment: str) -> None:
    safe = sanitize_html(fragment)
    assert key(safe_html_words(safe)) == key(html_to_text(safe))
