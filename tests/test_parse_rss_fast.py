"""The fast RSS 2.0 reader gives what feedparser gives, and leaves everything else to it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.model import ParseError
from aggregator.parse.feed import (
    FeedEntries,
    _xml_content_type,
    parse_entries,
    parse_entries_reference,
)
from aggregator.parse.rss import read_rss
from feedgen import SHOWS, Show, render_feed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import feedgen as bench_feedgen  # noqa: E402

DATA = Path(__file__).parent / "data"
FIXTURES = sorted(
    p for p in DATA.rglob("*") if p.suffix in (".xml", ".rss", ".atom") and p.is_file()
)
BASE = "https://feeds.example/show/feed.xml"
NAMESPACES = (
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:podcast="https://podcastindex.org/namespace/1.0" '
    'xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:psc="http://podlove.org/simple-chapters"'
)


def _both(data: bytes, **kwargs: str | None) -> tuple[object, object]:
    def run(parse: Callable[..., FeedEntries]) -> FeedEntries | tuple[str, str]:
        try:
            return parse(data, **kwargs)
        except ParseError as exc:
            return ("ParseError", str(exc))

    return run(parse_entries), run(parse_entries_reference)


def _fast(data: bytes, base_url: str | None = None, content_type: str | None = None) -> bool:
    headers = {"content-type": _xml_content_type(content_type, data)}
    if base_url:
        headers["content-location"] = base_url
    return read_rss(data, headers, base_url) is not None


def _assert_same(data: bytes, **kwargs: str | None) -> None:
    fast, reference = _both(data, **kwargs)
    assert fast == reference


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(DATA)))
@pytest.mark.parametrize("base_url", [None, BASE])
def test_fixtures_read_the_same_both_ways(path: Path, base_url: str | None) -> None:
    _assert_same(path.read_bytes(), base_url=base_url)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bench_feeds_read_the_same_both_ways(seed: int) -> None:
    data = bench_feedgen.feed(seed, 0, keep=40)
    assert _fast(data, BASE)
    _assert_same(data, show="Show", base_url=BASE)


@pytest.mark.parametrize("show", SHOWS, ids=lambda s: s.slug)
def test_test_feeds_read_the_same_both_ways(show: Show) -> None:
    data = render_feed(show, 12)
    assert _fast(data)
    _assert_same(data, base_url=BASE)


# Declarations feedparser reads its own way: by prefix when it does not know the namespace,
# by namespace (whatever the prefix) when it does.
ODD_NAMESPACES = (
    NAMESPACES.replace("http://www.itunes", "https://www.itunes"),
    NAMESPACES.replace("dtds/podcast", "DTDs/Podcast"),
    NAMESPACES.replace("mrss/", "mrss").replace("xmlns:dc=", "xmlns:dcx="),
    NAMESPACES.replace("xmlns:content=", "xmlns:c="),
    NAMESPACES.replace('xmlns:dc="http://purl.org/dc/elements/1.1/"', 'xmlns:dc="urn:not-dc"'),
)


def _feed(channel: str, items: list[str], *, head: str = "", namespaces: str = NAMESPACES) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}\n<rss version="2.0" {namespaces}>'
        f"<channel>{channel}{''.join(items)}</channel></rss>"
    ).encode()


PLAIN_ITEM = "<item><title>One</title><guid>g1</guid></item>"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<entry><id>e1</id><title>E</title></entry></feed>",
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>R</title></channel>'
        b'<item rdf:about="i"><title>I</title><link>https://r.example/i</link></item></rdf:RDF>',
        b"<rss version='0.91'><channel><title>Old</title>"
        + PLAIN_ITEM.encode()
        + b"</channel></rss>",
        b"<rss version='2.0'><channel><title>Broken</title><item><title>x</item></channel></rss>",
        _feed("<title>T</title>", [PLAIN_ITEM]).decode().encode("utf-16"),
        _feed("<title>Caf\u00e9</title>", [PLAIN_ITEM]).replace(b"utf-8", b"iso-8859-1"),
        _feed("<title>T</title>", [PLAIN_ITEM], head='<!DOCTYPE rss SYSTEM "rss.dtd">'),
        _feed("<title>T</title>", [PLAIN_ITEM.replace("<item>", '<item xml:base="/x/">')]),
        _feed("<title>T</title>", [PLAIN_ITEM.replace("<item>", '<item xmlns:x="urn:x">')]),
        _feed(
            "<title>T</title>", [PLAIN_ITEM.replace("</item>", "<source url='u'>S</source></item>")]
        ),
        _feed("<title>T</title>", [PLAIN_ITEM.replace("</item>", "<media:group/></item>")]),
        _feed("<title>T</title>", [PLAIN_ITEM, "<title>after the items</title>"]),
    ],
    ids=[
        "atom",
        "rss1",
        "rss091",
        "broken",
        "utf16",
        "latin1",
        "doctype",
        "xml-base",
        "item-namespace",
        "source",
        "media-group",
        "channel-after-items",
    ],
)
def test_other_documents_go_to_feedparser(data: bytes) -> None:
    assert not _fast(data)
    _assert_same(data, base_url=BASE)


def test_a_latin1_charset_from_the_server_goes_to_feedparser() -> None:
    data = _feed("<title>T</title>", [PLAIN_ITEM])
    assert _fast(data, content_type="application/rss+xml; charset=utf-8")
    assert not _fast(data, content_type="application/rss+xml; charset=iso-8859-1")


# Text that exercises feedparser's text handling: entities and character references,
# CDATA, markup (real and escaped), edge whitespace, non-ASCII, UTF-8 read as Latin-1,
# C1 controls and the characters cp1252 puts there, relative and odd URLs.
_PIECES = st.sampled_from(
    [
        "plain words",
        "&amp;",
        "&lt;b&gt;bold&lt;/b&gt;",
        "&lt;p&gt;para&lt;/p&gt;",
        "&lt;blink&gt;x&lt;/blink&gt;",
        "&#38;copy;",
        "&amp;nbsp;",
        "&#x2019;",
        "&#133;",
        "&#150;",
        "&#160;",
        "<![CDATA[<em>cdata</em> & more]]>",
        "<![CDATA[a <b>]]>",
        "Caf\u00e9",
        "Ã©t\u00e9",
        "\u4e2d\u6587",
        "\U0001f600",
        "\u0085",
        "\u0080",
        "  ",
        "\n\t",
        "\u00a0",
        "\u2003",
        "&#13;",
        "\r\n",
        "x=1&amp;y=2",
        "/relative/path",
        "../up",
        "https://ok.example/a?b=1&amp;c=2",
        "javascript:alert(1)",
        "yes",
        "clean",
        "Yes",
        "12",
        "0",
        "-3",
        "1:02:03",
        "Mon, 02 Jun 2025 06:00:00 +0200",
        "2025-06-02T06:00:00Z",
        "02 Jun 2025",
        "not a date",
    ]
)
_TEXT = st.lists(_PIECES, max_size=4).map("".join)
_ATTR = st.sampled_from(
    [
        "",
        "https://cdn.example/a.mp3",
        "/rel/b.mp3",
        "b.m4a",
        "audio/MPEG",
        "Video/MP4",
        "image/jpeg",
        "123",
        "12x",
        "true",
        "false",
        "TRUE",
        "a&b",
        "caf\u00e9",
    ]
)


def _attrs(names: list[str]) -> st.SearchStrategy[str]:
    return st.lists(
        st.tuples(st.sampled_from(names), _ATTR), max_size=4, unique_by=lambda t: t[0]
    ).map(lambda pairs: "".join(f" {k}={quoteattr(v)}" for k, v in pairs))


def _element(tag: str, attrs: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    return st.tuples(attrs if attrs is not None else st.just(""), _TEXT).map(
        lambda p: f"<{tag}{p[0]}>{p[1]}</{tag}>"
    )


_ITEM_ELEMENTS = st.one_of(
    _element("title"),
    _element("Title"),
    _element("dc:title"),
    _element("link"),
    _element("guid", _attrs(["isPermaLink"])),
    _element("pubDate"),
    _element("dc:date"),
    _element("description"),
    _element("dc:description"),
    _element("content:encoded"),
    _element("itunes:summary"),
    _element("itunes:subtitle"),
    _element("enclosure", _attrs(["url", "URL", "href", "type", "length", "rel"])),
    _element("media:content", _attrs(["url", "type", "fileSize", "medium"])),
    _element("media:thumbnail", _attrs(["url", "width"])),
    _element("itunes:image", _attrs(["href", "url"])),
    _element("itunes:episode", _attrs(["x"])),
    _element("itunes:season"),
    _element("itunes:duration"),
    _element("itunes:explicit", _attrs(["x"])),
    _element("itunes:title"),
    _element("itunes:author"),
    _element("author"),
    _element("dc:creator"),
    _element("category", _attrs(["domain"])),
    _element("comments"),
    _element("c:encoded"),
    _element("dcx:creator"),
    _element("podcast:person", _attrs(["role", "href", "img"])),
    _element("podcast:transcript", _attrs(["url", "type"])),
    st.just("<itunes:episodeType>full</itunes:episodeType>"),
    st.just('<psc:chapters><psc:chapter start="00:01" title="One"/></psc:chapters>'),
    st.just('<psc:chapters><psc:chapter title="No start"/></psc:chapters>'),
    st.just(
        '<podcast:alternateEnclosure type="audio/mpeg"><podcast:source uri="/a"/>'
        "</podcast:alternateEnclosure>"
    ),
    st.just("<podcast:value><title>Nested title</title></podcast:value>"),
    st.just("<media:title>Media title</media:title>"),
    st.just('<itunes:explicit x="1"><title>Nested</title></itunes:explicit>'),
    st.just('<podcast:chapters url="/c.json" type="application/json+chapters"/>'),
)
_CHANNEL_ELEMENTS = st.one_of(
    _element("title"),
    _element("link"),
    _element("description"),
    _element("itunes:summary"),
    _element("itunes:subtitle"),
    _element("language"),
    _element("ttl"),
    _element("itunes:author"),
    _element("managingEditor"),
    _element("itunes:image", _attrs(["href"])),
    st.tuples(_TEXT, _TEXT).map(
        lambda p: (
            f"<itunes:owner><itunes:name>{p[0]}</itunes:name>"
            f"<itunes:email>{p[1]}</itunes:email></itunes:owner>"
        )
    ),
    st.tuples(_TEXT, _TEXT).map(
        lambda p: f"<image><url>{p[0]}</url><title>{p[1]}</title><link>/</link></image>"
    ),
    st.just('<atom:link href="https://feeds.example/self" rel="self" type="application/rss+xml"/>'),
    st.just(
        '<itunes:category text="Technology"><itunes:category text="Tech News"/></itunes:category>'
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channel=st.lists(_CHANNEL_ELEMENTS, max_size=6),
    items=st.lists(st.lists(_ITEM_ELEMENTS, max_size=10), min_size=1, max_size=3),
    base_url=st.sampled_from(
        [None, BASE, "https://feeds.example", "http://h.example/a/../b/f?x#y", "ftp://f.example/"]
    ),
    namespaces=st.sampled_from((NAMESPACES, *ODD_NAMESPACES)),
)
def test_generated_rss_reads_the_same_both_ways(
    channel: list[str], items: list[list[str]], base_url: str | None, namespaces: str
) -> None:
    items_xml = [f"<item>{''.join(item)}</item>" for item in items]
    data = _feed("".join(channel), items_xml, namespaces=namespaces)
    _assert_same(data, base_url=base_url)


def test_tricky_plain_rss_takes_the_fast_path_and_agrees() -> None:
    """Markup in a title, a relative permalink guid, a summary after the description (which
    feedparser makes content), a mixed-case MIME type: still the fast reader's to read."""
    item = "".join(
        [
            "<title>&lt;b&gt;Bold&lt;/b&gt; title</title>",
            '<guid isPermaLink="true">/episodes/1</guid>',
            "<description><![CDATA[<p>Notes</p>]]></description>",
            "<itunes:summary>Summary</itunes:summary>",
            '<enclosure url="/a.mp3" type="Audio/MPEG" length="12"/>',
            "<itunes:explicit>yes</itunes:explicit>",
        ]
    )
    data = _feed("<title>T</title>", [f"<item>{item}</item>"])
    assert _fast(data, BASE)
    _assert_same(data, base_url=BASE)
