"""Feed bytes (RSS 2.0, RSS 1.0, Atom; itunes, podcast and psc namespaces) to episodes.

feedparser reads the feed formats and their many dialects; lxml (``feed_xml``) reads the
namespaced elements feedparser misses. Both get the bytes, never a URL. feedparser's
sanitiser and relative-URI resolution are off (60 % of its time); ``sanitize`` does that.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
from dateutil import parser as dateutil_parser

from aggregator.extract.durations import parse_duration
from aggregator.extract.titles import split_title
from aggregator.model import Enclosure, Episode, FeedInfo, ParsedFeed, ParseError, Person
from aggregator.normalise import normalise, to_utc
from aggregator.parse.chapters import parse_chapters_json
from aggregator.parse.entities import declares_entities, without_entities
from aggregator.parse.feed_xml import BOMS, Extras, XmlView, charset_of, read_xml
from aggregator.parse.rss import RawFeed, feedparser_read, read_rss
from aggregator.sanitize import clean_text, html_to_text, http_url, links_in, sanitize_html, shorten

# parse_chapters_json: the JSON that podcast:chapters points at
__all__ = [
    "FeedEntries",
    "parse_chapters_json",
    "parse_entries",
    "parse_entries_reference",
    "parse_feed",
]

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 4000  # the whole description in practice: extraction reads it, renderers shorten
_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True, slots=True)
class FeedEntries:
    """A feed read entry by entry: ``entries[i]`` is the i-th item of the document, None
    when it has nothing to identify it by (no title, guid, link or enclosure)."""

    info: FeedInfo
    entries: tuple[Episode | None, ...]
    warnings: tuple[str, ...]

    def as_parsed(self) -> ParsedFeed:
        episodes = tuple(ep for ep in self.entries if ep is not None)
        warnings = self.warnings
        if len(episodes) < len(self.entries):
            skipped = len(self.entries) - len(episodes)
            warnings += (f"skipped {skipped} entries without title, guid, link or enclosure",)
        return ParsedFeed(info=self.info, episodes=episodes, warnings=warnings)


def parse_feed(
    data: bytes,
    *,
    show: str | None = None,
    base_url: str | None = None,
    content_type: str | None = None,
) -> ParsedFeed:
    """Parse a feed document. ``show`` overrides the channel title as the episodes' show;
    ``base_url`` (the URL the bytes came from) resolves relative links; ``content_type``
    (the HTTP header) helps with the encoding.

    Raises :class:`ParseError` when the bytes are not a feed; a damaged feed whose entries
    can still be read is parsed and the damage listed in ``warnings``.
    """
    parsed = parse_entries(
        data, show=show, base_url=base_url, content_type=content_type
    ).as_parsed()
    log.debug(
        "%s: %d episodes, %d warnings",
        show or parsed.info.title,
        len(parsed.episodes),
        len(parsed.warnings),
    )
    return parsed


def parse_entries(
    data: bytes,
    *,
    show: str | None = None,
    base_url: str | None = None,
    content_type: str | None = None,
) -> FeedEntries:
    """:func:`parse_feed`, keeping one result per entry in document order."""
    return _parse_entries(data, show, base_url, content_type, fast=True)


def parse_entries_reference(
    data: bytes,
    *,
    show: str | None = None,
    base_url: str | None = None,
    content_type: str | None = None,
) -> FeedEntries:
    """:func:`parse_entries` with feedparser reading every document: the reference the fast
    RSS reader must agree with."""
    return _parse_entries(data, show, base_url, content_type, fast=False)


def _parse_entries(
    data: bytes, show: str | None, base_url: str | None, content_type: str | None, *, fast: bool
) -> FeedEntries:
    if not data or not data.strip():
        raise ParseError("empty document")
    warnings: list[str] = []
    headers = {"content-type": _xml_content_type(content_type, data)}
    if declares_entities(data):
        stripped = without_entities(data)
        if stripped is not None:
            data, transcoded = stripped
            if transcoded:
                headers["content-type"] = "application/xml"
            warnings.append("removed the DOCTYPE and its entity declarations")
    if base_url:
        headers["content-location"] = base_url
    raw = read_rss(data, headers, base_url) if fast and not warnings else None
    if raw is None:
        raw = _read_with_feedparser(data, headers, base_url, warnings)
    entries, channel, view = raw.entries, raw.channel, raw.view
    if not entries and not (raw.version and channel):
        raise ParseError(_not_a_feed(data, view))

    info = _feed_info(channel, view.channel, base_url)
    atom = raw.version.startswith("atom")
    feed = _Feed(
        show=show or info.title or "",
        aliases=(info.title,) if info.title and info.title != show else (),
        base=base_url or info.link,
        atom=atom,
        author=info.author if atom else None,
        channel=view.channel,
    )
    if not feed.show:
        warnings.append("no show name: neither given nor in the feed")
    extras = _match_extras(entries, view, feed.base, warnings)
    return FeedEntries(
        info=info,
        entries=tuple(
            _episode(entry, extra or Extras(), feed)
            for entry, extra in zip(entries, extras, strict=True)
        ),
        warnings=tuple(warnings),
    )


def _read_with_feedparser(
    data: bytes, headers: dict[str, str], base_url: str | None, warnings: list[str]
) -> RawFeed:
    try:
        result = feedparser_read(data, headers)
    except Exception as exc:  # feedparser's failure modes on hostile bytes are open-ended
        raise ParseError(f"unreadable feed: {exc.__class__.__name__}: {exc}") from exc
    if result.get("bozo"):
        warnings.append(_bozo(result.get("bozo_exception")))
    # lxml reads the bytes in the encoding feedparser settled on (HTTP charset, declaration,
    # sniffing), so both see the same text.
    return RawFeed(
        channel=result.get("feed") or {},
        entries=result.get("entries") or [],
        version=str(result.get("version") or ""),
        view=read_xml(data, base_url, encoding=result.get("encoding") or None),
    )


@dataclass(frozen=True, slots=True)
class _Feed:
    """What every entry of one feed shares."""

    show: str
    aliases: tuple[str, ...]  # other names of the show to strip from titles
    base: str | None  # resolves relative URLs
    atom: bool
    author: str | None  # Atom only: the feed's author, the host when entries name none
    channel: Extras


def _xml_content_type(content_type: str | None, data: bytes) -> str:
    """What feedparser should hear: only the charset matters. Without a content type it
    assumes ISO-8859-1, for text/xml without a charset US-ASCII (RFC 3023, which no reader
    follows), and it flags every feed served as text/html or octet-stream; all noise.
    A byte-order mark outranks the server's label, as it does in browsers."""
    charset = None if data.startswith(BOMS) else charset_of(content_type)
    return f"application/xml; charset={charset}" if charset else "application/xml"


def _bozo(exc: object) -> str:
    if isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        return f"content type or encoding: {exc}"
    return f"not well-formed, read what could be read: {exc}"


def _not_a_feed(data: bytes, view: XmlView) -> str:
    if (view.root or "").lower() == "html" or _HTML.search(data[:2048]):
        return "not a feed: an HTML page"
    if view.root is None:
        return "not a feed: no XML root element"
    return f"not a feed: root element <{view.root}> has no channel and no entries"


def _feed_info(channel: Mapping[str, Any], extra: Extras, base_url: str | None) -> FeedInfo:
    link = http_url(_str(channel.get("link")), base_url)
    image = extra.image or http_url(_str((channel.get("image") or {}).get("href")), base_url)
    return FeedInfo(
        title=_plain(channel, "title") or None,
        link=link,
        description=_plain(channel, "subtitle") or _plain(channel, "summary") or None,
        image=image or http_url(_str(channel.get("logo")), base_url),
        author=extra.author or clean_text(_str(channel.get("author"))) or None,
        language=_str(channel.get("language")).strip() or None,
        ttl_minutes=_positive_int(channel.get("ttl")),
    )


def _match_extras(
    entries: list[dict[str, Any]], view: XmlView, base: str | None, warnings: list[str]
) -> list[Extras | None]:
    """lxml's items for feedparser's entries: by position when both saw the same number,
    else by guid (raw, or resolved as feedparser resolves permalink guids)."""
    if len(view.items) == len(entries):
        return list(view.items)
    by_guid: dict[str, Extras] = {}
    for item in view.items:
        if item.guid:
            by_guid.setdefault(item.guid, item)
            resolved = http_url(item.guid, base)
            if resolved:
                by_guid.setdefault(resolved, item)
    matched = [by_guid.get(_str(e.get("id")).strip()) for e in entries]
    if view.items and None in matched:
        warnings.append("could not match every entry to its XML item; some podcast: data lost")
    return matched


def _episode(entry: dict[str, Any], extra: Extras, feed: _Feed) -> Episode | None:
    raw_title = _plain(entry, "title")
    parts = split_title(raw_title, feed.show, aliases=feed.aliases)
    guid = extra.guid or _str(entry.get("id")).strip() or None
    link = _link(entry, feed.base)
    enclosure = _enclosure(entry, feed.base)
    if not (raw_title or guid or link or enclosure):
        return None
    description_html, summary = _descriptions(entry, feed.base)
    title = parts.title or shorten(summary or "", 80)
    explicit = extra.explicit if extra.explicit is not None else feed.channel.explicit
    if explicit is None and isinstance(entry.get("itunes_explicit"), bool):
        explicit = entry["itunes_explicit"]  # no XML item matched: feedparser's reading
    episode = Episode(
        show=feed.show,
        title=title,
        guid=guid,
        number=_positive_int(entry.get("itunes_episode")) or parts.number,
        season=_positive_int(entry.get("itunes_season")) or parts.season,
        published=_published(entry, feed.atom),
        duration=parse_duration(_str(entry.get("itunes_duration"))),
        link=link,
        enclosure=enclosure,
        image=extra.image or _entry_image(entry, feed.base),
        description_html=description_html,
        summary=summary,
        explicit=explicit,
        people=_people(entry, extra, feed),
        chapters=extra.chapters,
        chapters_url=extra.chapters_url,
        links=links_in(description_html) if description_html else (),
        transcript_url=extra.transcript_url,
        transcript_type=extra.transcript_type,
    )
    return normalise(episode)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _plain(entry: Mapping[str, Any], key: str) -> str:
    """A text construct (title, subtitle) as plain text, whether marked up or not."""
    value = _str(entry.get(key))
    detail = entry.get(f"{key}_detail") or {}
    if detail.get("type") in _HTML_TYPES:
        value = html_to_text(value)
    return clean_text(value)


def _positive_int(value: object) -> int | None:
    text = _str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text) or None


def _published(entry: dict[str, Any], atom: bool) -> datetime | None:
    """The publication time with the source's own offset. feedparser's ``*_parsed`` are UTC
    and drop the offset, so we parse the raw string and use them only as a fallback. Atom's
    ``updated`` is an edit time, not a publication time; RSS's dc:date lands there too."""
    for key in ("published",) if atom else ("published", "updated"):
        # dict.get: FeedParserDict maps a missing "updated" to "published" (deprecated).
        raw = _str(dict.get(entry, key)).strip()
        if raw:
            return _date(raw, dict.get(entry, f"{key}_parsed"))
    return None


def _date(raw: str, parsed: object) -> datetime | None:
    """``parsed`` is feedparser's reading, the last resort; a callable when the fast RSS
    reader left it to be done only if needed."""
    found: datetime | None = None
    try:
        found = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            found = dateutil_parser.isoparse(raw)
        except (ValueError, OverflowError):
            if callable(parsed):
                parsed = parsed()
            if isinstance(parsed, time.struct_time):
                try:
                    found = datetime(*parsed[:6], tzinfo=UTC)
                except (ValueError, OverflowError):
                    found = None
    if found is None:
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    try:
        to_utc(found)
    except OverflowError:  # an offset that pushes year 1 or 9999 out of range
        return None
    return found


def _link(entry: dict[str, Any], base: str | None) -> str | None:
    """The episode page. Atom entries without a link get their id as link from feedparser;
    that is only a page when it is an http(s) URL (true of RSS permalink guids)."""
    for link in entry.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel", "alternate") == "alternate":
            url = http_url(_str(link.get("href")), base)
            if url:
                return url
    if entry.get("guidislink"):
        return http_url(_str(entry.get("id")))
    return None


def _enclosure(entry: dict[str, Any], base: str | None) -> Enclosure | None:
    candidates = []
    for link in entry.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == "enclosure":
            candidates.append((link.get("href"), link.get("type"), link.get("length")))
    for media in entry.get("media_content") or ():
        if isinstance(media, Mapping):
            candidates.append((media.get("url"), media.get("type"), media.get("filesize")))
    found = []
    for href, kind, length in candidates:
        url = http_url(_str(href), base)
        if url:
            mime = _str(kind).strip().lower() or None
            found.append(Enclosure(url=url, type=mime, length=_positive_int(length)))
    playable = [e for e in found if e.type and e.type.startswith(("audio/", "video/"))]
    return (playable or found or [None])[0]


def _entry_image(entry: dict[str, Any], base: str | None) -> str | None:
    image = entry.get("image")
    found = http_url(_str(image.get("href")), base) if isinstance(image, Mapping) else None
    for thumb in entry.get("media_thumbnail") or ():
        if found:
            break
        if isinstance(thumb, Mapping):
            found = http_url(_str(thumb.get("url")), base)
    return found


def _descriptions(entry: dict[str, Any], base: str | None) -> tuple[str | None, str | None]:
    """Show notes as safe HTML (content:encoded preferred, it is the full text) and a plain
    summary (the description preferred, it is the short one)."""
    content = next(
        (c for c in entry.get("content") or () if isinstance(c, Mapping) and _str(c.get("value"))),
        None,
    )
    summary = entry.get("summary_detail") or {}
    if not _str(summary.get("value")):
        summary = entry.get("subtitle_detail") or {}
    long_form = content or (summary if _str(summary.get("value")) else None)
    short_form = summary if _str(summary.get("value")) else content
    description_html = None
    if long_form:
        description_html = sanitize_html(_as_html(long_form), base) or None
    text = ""
    if short_form:
        value = _str(short_form.get("value"))
        if short_form.get("type") in _HTML_TYPES:
            text = html_to_text(value, limit=SUMMARY_LENGTH)
        else:
            text = clean_text(value)
    return description_html, shorten(text, SUMMARY_LENGTH) or None


def _as_html(detail: Mapping[str, Any]) -> str:
    value = _str(detail.get("value"))
    if detail.get("type") in _HTML_TYPES:
        return value
    paragraphs = (p.strip() for p in value.replace("\r\n", "\n").split("\n\n"))
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p
    )


def _people(entry: dict[str, Any], extra: Extras, feed: _Feed) -> tuple[Person, ...]:
    """The episode's podcast:person entries; hosts, when it names none, from the channel's
    podcast:person, else itunes:author (item, then channel), else the Atom author."""
    people = list(extra.people)
    if not any(p.role == "host" for p in people):
        hosts = [p for p in feed.channel.people if p.role == "host"]
        author = extra.author or feed.channel.author
        if not author and feed.atom:
            author = clean_text(_str(entry.get("author"))) or feed.author
        if not hosts and author:
            hosts = [Person(name=author, role="host")]
        people = hosts + people
    return tuple(people)
