"""parse_feed on hand-written feeds beside their expected values, and on hostile input."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.model import Episode, ParseError
from aggregator.normalise import content_hash, identity_key, normalise
from aggregator.parse.feed import parse_feed

DATA = Path(__file__).parent / "data" / "feeds"
CASES = sorted(p.stem for p in DATA.glob("*.xml"))


def _load(case: str) -> tuple[bytes, dict[str, Any]]:
    expected = json.loads((DATA / f"{case}.expected.json").read_text(encoding="utf-8"))
    return (DATA / f"{case}.xml").read_bytes(), expected


def _as_json(ep: Episode) -> dict[str, Any]:
    fields = dataclasses.asdict(ep)
    fields["published"] = ep.published.isoformat() if ep.published else None
    return {"identity": identity_key(ep), **json.loads(json.dumps(fields))}


@pytest.mark.parametrize("case", CASES)
def test_feed_gives_expected_episodes(case: str) -> None:
    data, expected = _load(case)
    parsed = parse_feed(data, **expected["args"])
    assert dataclasses.asdict(parsed.info) == expected["info"]
    assert [_as_json(ep) for ep in parsed.episodes] == expected["episodes"]
    assert len(parsed.warnings) == len(expected["warnings"]), parsed.warnings
    for warning, fragment in zip(parsed.warnings, expected["warnings"], strict=True):
        assert fragment in warning


@pytest.mark.parametrize("case", CASES)
def test_parsed_episodes_are_normalised_and_stable_across_polls(case: str) -> None:
    data, expected = _load(case)
    first = parse_feed(data, **expected["args"]).episodes
    again = parse_feed(data, **expected["args"]).episodes
    assert all(normalise(ep) == ep for ep in first)
    assert [identity_key(e) for e in first] == [identity_key(e) for e in again]
    assert [content_hash(e) for e in first] == [content_hash(e) for e in again]
    assert len({identity_key(e) for e in first}) == len(first)


def test_published_keeps_the_source_offset() -> None:
    data, _ = _load("full_rss")
    first = parse_feed(data).episodes[0]
    assert first.published is not None
    assert first.published.utcoffset() is not None
    assert first.published.utcoffset().total_seconds() == -8 * 3600


def test_moved_feed_keeps_guids() -> None:
    """feedparser resolves permalink guids against the feed URL; identity must not move."""
    data, _ = _load("odd")
    here = parse_feed(data, base_url="https://old.example/feed.xml").episodes
    there = parse_feed(data, base_url="https://new.example/rss").episodes
    assert [e.guid for e in here] == [e.guid for e in there] == [f"odd-{i}" for i in range(1, 8)]


def test_show_argument_names_the_show() -> None:
    data, _ = _load("atom")
    parsed = parse_feed(data, show="Coffee and Kernels")
    assert {e.show for e in parsed.episodes} == {"Coffee and Kernels"}
    assert parsed.info.title == "Kaffee & Kernel"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (
            b"<!doctype html><html><head><title>Hi</title></head><body><p>x</p></body></html>",
            "HTML",
        ),
        (b'{"episodes": []}', "not a feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a feed"),
        (b"<rss version='2.0'></rss>", "not a feed"),
    ],
)
def test_not_a_feed_raises_parse_error(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_feed(data)


def test_empty_channel_is_a_feed_without_episodes() -> None:
    parsed = parse_feed(b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>")
    assert parsed.info.title == "Quiet"
    assert parsed.episodes == ()


def _laughs(levels: int = 9) -> str:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    return "<!DOCTYPE rss [\n" + "\n".join(decls) + "\n]>\n"


def test_billion_laughs_neither_hangs_nor_expands() -> None:
    doc = (
        '<?xml version="1.0"?>\n'
        + _laughs()
        + "<rss version='2.0'><channel><title>Laughs &lol9;</title>"
        + "<item><title>Joke &lol9;</title><guid>j1</guid>"
        + "<description>&lol9;&lol9;</description></item></channel></rss>"
    )
    started = time.perf_counter()
    parsed = parse_feed(doc.encode())
    assert time.perf_counter() - started < 5
    (episode,) = parsed.episodes
    assert episode.guid == "j1"
    assert episode.title == "Joke"
    assert parsed.info.title == "Laughs"
    assert "lollol" not in (episode.summary or "")
    assert any("DOCTYPE" in w for w in parsed.warnings)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_quadratic_blowup_is_not_expanded(encoding: str) -> None:
    """100 MB if expanded: expat refuses, and feedparser's loose fallback would expand."""
    big = "x" * 10_000
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<!DOCTYPE rss [<!ENTITY big "{big}">]>\n'
        "<rss version='2.0'><channel><title>Big</title><item><title>One</title><guid>b1</guid>"
        f"<description>{'&big;' * 10_000}</description></item></channel></rss>"
    )
    started = time.perf_counter()
    parsed = parse_feed(doc.encode(encoding))
    assert time.perf_counter() - started < 5
    (episode,) = parsed.episodes
    assert episode.title == "One"
    assert len(episode.description_html or "") < 1000


def test_entity_declarations_are_dropped_but_the_feed_is_read() -> None:
    doc = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY brand "Acme">]>\n'
        b"<rss version='2.0'><channel><title>Shop &brand; talk</title>"
        b"<item><title>First</title><guid>s1</guid></item>"
        b"<item><title>Second</title><guid>s2</guid></item></channel></rss>"
    )
    parsed = parse_feed(doc)
    assert [e.guid for e in parsed.episodes] == ["s1", "s2"]
    assert parsed.info.title == "Shop talk"


def test_external_entities_are_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        "<rss version='2.0'><channel><title>Leak &xxe;</title>"
        "<item><title>Item &xxe;</title><guid>x1</guid></item></channel></rss>"
    ).encode()
    parsed = parse_feed(doc)
    assert parsed.info.title == "Leak"
    assert parsed.episodes[0].title == "Item"


def test_entity_text_inside_cdata_is_content_not_a_declaration() -> None:
    doc = (
        b"<rss version='2.0'><channel><title>XML Hour</title><item><title>DTDs</title>"
        b'<guid>d1</guid><description><![CDATA[<p>Write <code><!ENTITY x "y"></code>'
        b"</p>]]></description></item></channel></rss>"
    )
    parsed = parse_feed(doc)
    assert parsed.warnings == ()
    assert parsed.episodes[0].guid == "d1"
    assert parsed.episodes[0].summary == "Write"  # to HTML, <!ENTITY ...> is a bogus comment


def test_public_doctype_without_entities_is_left_alone() -> None:
    doc = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n'
        b"<rss version='0.91'><channel><title>Old</title><link>https://old.example/</link>"
        b"<item><title>Vintage</title><link>https://old.example/1</link></item></channel></rss>"
    )
    parsed = parse_feed(doc)
    assert [e.title for e in parsed.episodes] == ["Vintage"]
    assert parsed.warnings == ()


_LATIN = (
    '<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
    "<title>Café Talk</title><item><title>Crème — one</title><guid>c1</guid>"
    '<podcast:person role="guest">Zoë Ångström</podcast:person></item></channel></rss>'
)


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("windows-1252", "application/rss+xml; charset=windows-1252"),
        ("windows-1252", None),  # no charset anywhere: sniffed
        ("utf-16", None),
        ("utf-8", "text/xml; charset=no-such-charset"),
    ],
)
def test_both_parsers_read_the_same_encoding(encoding: str, content_type: str | None) -> None:
    parsed = parse_feed(_LATIN.encode(encoding), content_type=content_type)
    assert parsed.info.title == "Café Talk"
    (episode,) = parsed.episodes
    assert episode.title == "Crème — one"
    assert episode.guests == ["Zoë Ångström"]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/xml",
        "text/html",
        "application/octet-stream",
        "application/rss+xml; charset=utf-8",
    ],
)
def test_common_server_content_types_are_no_warning(content_type: str | None) -> None:
    data, _ = _load("full_rss")
    assert parse_feed(data, content_type=content_type).warnings == ()


def test_items_lxml_does_not_see_are_matched_by_guid() -> None:
    doc = (
        b'<rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>'
        b"<title>S</title><item><title>B</title><guid>b</guid><link>https://s.example/b</link>"
        b'<podcast:person role="guest">Hal</podcast:person></item>'
        b'<wrapper><item><title>A</title><guid isPermaLink="false">a</guid>'
        b'<podcast:person role="guest">Gus</podcast:person></item></wrapper>'
        b"</channel></rss>"
    )
    parsed = parse_feed(doc, base_url="https://s.example/feed")
    assert [(e.guid, e.guests) for e in parsed.episodes] == [("b", ["Hal"]), ("a", [])]
    assert any("could not match" in w for w in parsed.warnings)


def test_html_in_show_notes_is_sanitised() -> None:
    doc = b"""<rss version="2.0"><channel><title>S</title><item><title>T</title><guid>g</guid>
    <description><![CDATA[<p style="color:red" onmouseover="x()">Hi <img src="/a.png" onerror="x()">
    <a href="javascript:alert(1)">bad</a> <a href="https://ok.example/" target="_blank">ok</a></p>
    <style>p{}</style><object data="x.swf"></object>]]></description></item></channel></rss>"""
    ep = parse_feed(doc, base_url="https://feeds.example/s.xml").episodes[0]
    assert ep.description_html == (
        '<p>Hi <img src="https://feeds.example/a.png">\n    <a rel="noopener nofollow">bad</a>'
        ' <a href="https://ok.example/" rel="noopener nofollow">ok</a></p>'
    )
    assert ep.links == ("https://ok.example/",)


def test_long_summary_is_cut_at_a_word_boundary() -> None:
    words = " ".join(f"word{i}" for i in range(1000))  # 7889 characters
    doc = f"<rss version='2.0'><channel><title>S</title><item><title>T</title><guid>g</guid><description>{words}</description></item></channel></rss>"
    summary = parse_feed(doc.encode()).episodes[0].summary
    assert summary is not None
    assert len(summary) <= 4000
    assert summary.endswith(" word512…")  # 689 + 8 * (512 - 99) = 3993 characters, then "…"


_TAGS = [
    "item", "title", "guid", "link", "pubDate", "enclosure", "description", "content:encoded",
    "itunes:duration", "itunes:episode", "itunes:season", "itunes:explicit", "itunes:author",
    "itunes:image", "podcast:person", "podcast:transcript", "podcast:chapters", "psc:chapters",
    "psc:chapter", "entry", "published", "updated", "id", "summary", "channel", "media:content",
]  # fmt: skip
_ATTRS = [
    "", ' url="https://x.example/a.mp3"', ' url="/rel"', ' role="guest"', ' role=""',
    ' start="00:01:30.000"', ' start="-1"', ' title="&amp;amp;"', ' href="javascript:x()"',
    ' length="-1"', ' length="99999999999999999999"', ' type="text/vtt"', ' href="http://[::1"',
    ' isPermaLink="true"', ' rel="enclosure" href="x"',
]  # fmt: skip
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "&amp;", "&amp;amp;", "&lt;b&gt;", "&#0;", "&#x110000;", "&nbsp;", "]]>", "<![CDATA[<p>x",
            "Mon, 30 Feb 2024 08:00:00 +0000", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
            "1:02:03", "99:99", "Episode 12 - x", "#1:", "S9E99 · y", "yes", "clean", "&lol;", "\x00",
        ]
    ),
)  # fmt: skip
_XMLISH = st.recursive(
    _TEXT,
    lambda inner: st.builds(
        lambda tag, attrs, kids, close: (
            f"<{tag}{attrs}>{''.join(kids)}" + (f"</{tag}>" if close else "")
        ),
        st.sampled_from(_TAGS),
        st.sampled_from(_ATTRS),
        st.lists(inner, max_size=4),
        st.booleans(),
    ),
    max_leaves=25,
)
_ROOT = (
    '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
    'xmlns:podcast="https://podcastindex.org/namespace/1.0" '
    'xmlns:psc="http://podlove.org/simple-chapters" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/"><channel>'
)


def _only_parse_errors(data: bytes) -> None:
    try:
        parsed = parse_feed(data, base_url="https://feeds.example/x.xml")
    except ParseError:
        return
    for ep in parsed.episodes:
        assert normalise(ep) == ep
        identity_key(ep)
        content_hash(ep)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes) -> None:
    _only_parse_errors(data)


_ELEMENT = st.builds(
    lambda tag, attrs, text: f"<{tag}{attrs}>{text}</{tag}>" if text else f"<{tag}{attrs}/>",
    st.sampled_from(_TAGS),
    st.sampled_from(_ATTRS),
    _TEXT.map(lambda t: t.replace("<", "&lt;")),
)
_ITEM = st.builds(
    lambda title, kids: f"<item><title>{title}</title>{''.join(kids)}</item>",
    _TEXT.map(lambda t: t.replace("<", "&lt;").replace("&", "&amp;")),
    st.lists(st.one_of(_ELEMENT, _ELEMENT, _XMLISH), max_size=8),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_XMLISH, max_size=6), st.booleans(), st.integers(min_value=0, max_value=400))
def test_xmlish_text_raises_only_parse_error(parts: list[str], wrap: bool, cut: int) -> None:
    body = "".join(parts)
    doc = f"{_ROOT}{body}</channel></rss>" if wrap else body
    _only_parse_errors(doc[: len(doc) - cut if wrap else None].encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_ELEMENT, max_size=4),
    st.lists(_ITEM, min_size=1, max_size=4),
    st.one_of(st.just(0), st.integers(min_value=0, max_value=200)),
)
def test_feedlike_documents_raise_only_parse_error(
    channel: list[str], items: list[str], cut: int
) -> None:
    doc = _ROOT + "".join(channel) + "".join(items) + "</channel></rss>"
    _only_parse_errors(doc[: len(doc) - cut].encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_a_byte_order_mark_outranks_a_wrong_server_charset(encoding: str) -> None:
    doc = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>S</title>'
        "<item><title>Ünïcode wide</title><guid>g1</guid></item></channel></rss>"
    )
    data = doc.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    parsed = parse_feed(data, content_type="application/rss+xml; charset=iso-8859-1")
    assert [e.title for e in parsed.episodes] == ["Ünïcode wide"]
