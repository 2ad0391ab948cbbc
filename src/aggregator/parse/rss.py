"""Plain RSS 2.0 read straight from the lxml tree, as feedparser would have read it.

feedparser spends most of a big feed's parse time in per-character SAX callbacks and in
resolving a base URI for every element. For the common document - well-formed UTF-8 RSS 2.0,
no DOCTYPE, namespaces declared on ``<rss>`` - the items are read here from the tree that
also gives the lxml extras, into the dicts feedparser would have built for the keys
``parse.feed`` reads. Its quirks are reproduced with its own helpers (URI joining, date
parsing, the HTML guess, the cp1252 and double-encoding repairs); the channel, few elements
and full of quirks (owner, image, authors), is read by feedparser itself from the document
without its items. Whatever this module cannot vouch for makes it decline (None), and
feedparser reads the whole document.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import feedparser
from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict
from lxml import etree

from aggregator.parse.feed_xml import (
    BOMS,
    XmlView,
    charset_of,
    items_of,
    local_name,
    parse_xml,
    view_of,
)

__all__ = ["RawFeed", "feedparser_read", "read_rss"]

_DECLARED = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
_UTF8 = frozenset({"utf-8"})
_NAMESPACES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_QUERY_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# An absolute http(s) URL (printable ASCII) that urllib's parse and rebuild gives back as
# it is: lowercase scheme, a host, no path parameters, no empty query or fragment.
_PLAIN_URL = re.compile(r"https?://[^/?#;\[\]\\ ]+(?:/[^?#;\\ ]*)?(?:\?[^#\\ ]+)?(?:#[^\\ ]+)?")
_ITEM_DEPTH = 4  # rss, channel, item, child: feedparser resolves URIs against this depth's base
_LIKE_HTML: Callable[[str], bool] = _FeedParserMixin.looks_like_html

# feedparser's element keys ("prefix_local") this module reads, by what feedparser does.
_TITLE = frozenset({"title", "dc_title"})
_GUID = frozenset({"guid", "id"})
_PUBLISHED = frozenset({"pubdate", "published", "issued", "dcterms_issued"})
_UPDATED = frozenset({"updated", "modified", "lastbuilddate", "dc_date", "dcterms_modified"})
_DESCRIPTION = frozenset({"description", "dc_description", "media_description"})
_SUMMARY = frozenset({"summary", "itunes_summary"})
_CONTENT = frozenset({"content_encoded", "fullitem"})
_SUBTITLE = frozenset({"subtitle", "tagline", "itunes_subtitle"})
_PLAIN = frozenset({"itunes_episode", "itunes_season", "itunes_duration"})
_IMAGE = frozenset({"itunes_image", "itunes_link"})
# Handled by feedparser in ways that touch nothing parse.feed reads (when childless).
_INERT = frozenset(
    {
        "author",
        "managingeditor",
        "itunes_author",
        "dc_author",
        "dc_creator",
        "webmaster",
        "dc_publisher",
        "category",
        "keywords",
        "dc_subject",
        "media_category",
        "itunes_keywords",
        "media_keywords",
        "itunes_block",
        "language",
        "dc_language",
        "generator",
        "created",
        "dcterms_created",
        "expirationdate",
        "rights",
        "copyright",
        "dc_rights",
        "media_rating",
        "media_credit",
        "media_restriction",
        "media_license",
    }
)
# What parse.feed reads from an entry: an unhandled element must not land on these.
_READ = frozenset(
    {
        "title",
        "title_detail",
        "id",
        "guidislink",
        "link",
        "links",
        "media_content",
        "media_thumbnail",
        "image",
        "published",
        "published_parsed",
        "updated",
        "updated_parsed",
        "summary",
        "summary_detail",
        "subtitle",
        "subtitle_detail",
        "content",
        "author",
        "itunes_explicit",
        *_PLAIN,
    }
)


class _Decline(Exception):
    """The document is outside what this module reproduces exactly."""


@dataclass(frozen=True, slots=True)
class RawFeed:
    """A feed as feedparser shapes it (``channel``, ``entries``, ``version``) and the lxml
    extras for the same items."""

    channel: Mapping[str, Any]
    entries: list[dict[str, Any]]
    version: str
    view: XmlView


def read_rss(data: bytes, headers: Mapping[str, str], base_url: str | None) -> RawFeed | None:
    """The feed when it is plain RSS 2.0 this module reads exactly as feedparser does;
    None otherwise. ``headers`` are what feedparser would be given."""
    if data.startswith(BOMS) or not _utf8(data, headers.get("content-type", "")):
        return None
    root = parse_xml(data, recover=False)
    if root is None:
        return None
    try:
        channel = _plain_rss(root, data)
        names = _Names(root.nsmap)
        items = items_of(root)
        entries = _Items(names, _item_base(headers.get("content-location", ""))).read(
            channel, items
        )
    except _Decline:
        return None
    view = view_of(root, base_url)
    result = _read_channel(root, items, headers)
    if result is None:
        return None
    return RawFeed(channel=result["feed"], entries=entries, version=result["version"], view=view)


def _utf8(data: bytes, content_type: str) -> bool:
    """UTF-8 by the HTTP charset and the XML declaration, so both parsers read the same text."""
    charset = charset_of(content_type)
    declared = _DECLARED.match(data[:256])
    return (charset is None or charset.lower() in _UTF8) and (
        declared is None or declared.group(1).decode("ascii", "replace").lower() in _UTF8
    )


def _plain_rss(root: etree._Element, data: bytes) -> etree._Element:
    """The channel of an ``<rss version="2.x">`` with one channel, items only as its
    children and after its other elements, no DOCTYPE, all namespaces declared on the root
    and no base URI attributes; else :class:`_Decline`."""
    info = root.getroottree().docinfo
    if root.tag != "rss" or info.doctype or info.xml_version != "1.0":
        raise _Decline
    if set(root.attrib) - {"version"} or not root.get("version", "").startswith("2."):
        raise _Decline
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 1 or children[0].tag != "channel":
        raise _Decline
    if None in root.nsmap or data.count(b"xmlns") != len(root.nsmap):
        raise _Decline
    if root.xpath("boolean(//@*[local-name()='base'])"):
        raise _Decline
    channel = children[0]
    seen_item = False
    for child in channel:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "item":
            seen_item = True
        elif seen_item or local_name(child.tag).lower() in ("item", "entry"):
            raise _Decline
    return channel


def _item_base(content_location: str) -> str:
    """The base URI feedparser resolves an item child's links against: the HTTP location
    made safe, then made safe against itself once per level of nesting."""
    base = make_safe_absolute_uri("", content_location) or make_safe_absolute_uri(content_location)
    for _ in range(_ITEM_DEPTH):
        base = (make_safe_absolute_uri(base, base) or base) if base else _urljoin(base, base)
    return base


class _Names:
    """feedparser's key for an element (``itunes_duration``, ``title``), from its namespace
    and the declarations on the root, as its SAX handler derives it."""

    def __init__(self, nsmap: Mapping[str | None, str]) -> None:
        self._standard: dict[str, str] = {}  # declared prefix -> feedparser's prefix
        self._unknown: dict[str, str] = {}  # namespace feedparser does not know -> prefix
        for prefix, uri in nsmap.items():
            lower = uri.lower()
            if "backend.userland.com/rss" in lower or prefix is None:
                raise _Decline
            if lower in _NAMESPACES:
                self._standard[prefix] = _NAMESPACES[lower]
            elif uri in self._unknown:
                raise _Decline
            else:
                self._unknown[uri] = prefix
        self._keys: dict[str, str] = {}

    def __call__(self, tag: str) -> str:
        key = self._keys.get(tag)
        if key is None:
            key = self._keys[tag] = self._key(tag)
        return key

    def _key(self, tag: str) -> str:
        if not tag.startswith("{"):
            return tag.lower()
        namespace, _, local = tag[1:].partition("}")
        standard = _NAMESPACES.get(namespace.lower())
        if standard is None:
            if namespace not in self._unknown:
                raise _Decline  # declared below the root
            qualified = f"{self._unknown[namespace]}:{local}".lower()
        elif standard:
            qualified = f"{standard.lower()}:{local.lower()}"
        else:
            qualified = local.lower()
        prefix, _, suffix = qualified.rpartition(":")
        prefix = self._standard.get(prefix, prefix)
        return f"{prefix}_{suffix}" if prefix else suffix


def _parses(url: str) -> bool:
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def _finish(text: str) -> str:
    """feedparser's last touches on every element's text: UTF-8 that was read as Latin-1
    is decoded again, C1 controls become their cp1252 characters."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _text(el: etree._Element) -> str:
    if len(el):
        raise _Decline  # markup inside a text element: feedparser's inline-content rules
    return el.text or ""


def _attrs(el: etree._Element) -> dict[str, str]:
    """Attributes as feedparser's SAX handler passes them: names lowercased, rel and type
    values too."""
    found: dict[str, str] = {}
    for name, value in el.attrib.items():
        key = name.lower()
        if name.startswith("{") or key in found:
            raise _Decline
        found[key] = value.lower() if key in ("rel", "type") else value
    return found


def _no_attrs(el: etree._Element) -> None:
    if len(el.attrib):
        raise _Decline


def _detail(kind: str, value: str) -> dict[str, str]:
    return {"type": kind, "value": value}


def _guessed(raw: str) -> tuple[str, str]:
    """A nominally plain text construct: feedparser calls it HTML when it looks like HTML."""
    html = ("<" in raw or "&" in raw) and _LIKE_HTML(raw)  # it needs a tag or an entity
    return ("text/html" if html else "text/plain"), _finish(raw)


class _Items:
    """Reads items into feedparser's entry dicts, carrying the one piece of parser state
    that crosses elements (whether content was seen, which decides what a second summary
    becomes)."""

    def __init__(self, names: _Names, base: str) -> None:
        self._names = names
        self._base = base
        self._has_content = False
        self._base_parses = _parses(base)  # else feedparser's joins all fail

    def _join(self, raw: str) -> str:
        """feedparser's ``_urljoin(base, raw)``, which gives a plain absolute URL back as it
        is: such a URL (most links of a feed) skips urllib's parse and rebuild."""
        if self._base_parses and raw.isascii() and raw.isprintable() and _PLAIN_URL.fullmatch(raw):
            return raw
        return _urljoin(self._base, raw)

    def read(self, channel: etree._Element, items: list[etree._Element]) -> list[dict[str, Any]]:
        self._channel_state(channel)
        entries = []
        for item in items:
            _no_attrs(item)
            entries.append(self._entry(item))
            self._has_content = False  # feedparser resets it at every </item>
        return entries

    def _channel_state(self, channel: etree._Element) -> None:
        """Replays the channel's descriptions before the first item: a second one there
        turns on the has-content state the first item starts with."""
        has_summary = False
        for child in channel:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "item":
                return
            key = self._names(child.tag)
            for nested in child.iterdescendants(etree.Element):
                if self._summary_like(self._names(nested.tag), key):
                    raise _Decline
            if key in _CONTENT or key in ("content", "body", "xhtml_body"):
                raise _Decline
            if key in _DESCRIPTION or key in _SUMMARY:
                if has_summary and not self._has_content:
                    self._has_content = True
                elif key in _SUMMARY:
                    has_summary = True

    @staticmethod
    def _summary_like(key: str, parent: str) -> bool:
        """Whether a nested element could change the has-content state: descriptions of
        the channel's image and text input are read into their own dicts, never as content."""
        if key in _DESCRIPTION:
            return parent not in ("image", "textinput")
        return key in _SUMMARY or key in _CONTENT or key in ("content", "body", "xhtml_body")

    def _entry(self, item: etree._Element) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        names = self._names
        for child in item.iterchildren(etree.Element):
            key = names(child.tag)
            read = _READERS.get(key)
            if read is None:
                _check_inert(names, key, child)
            else:
                read(self, child, key, entry)
        return entry

    def _title(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _no_attrs(el)
        kind, value = _guessed(_text(el).strip())
        if not entry.get("title"):  # feedparser keeps the first non-empty title
            entry["title"], entry["title_detail"] = value, _detail(kind, value)

    def _date(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _no_attrs(el)
        name = "published" if key in _PUBLISHED else "updated"
        entry[name] = value = _finish(_text(el).strip())
        entry[f"{name}_parsed"] = functools.partial(_parse_date, value)  # rarely needed

    def _media_content(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _text(el)
        entry.setdefault("media_content", []).append(_attrs(el))

    def _image(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _text(el)
        attrs = _attrs(el)
        href = attrs.get("href") or attrs.get("url")
        if href:
            entry["image"] = {"href": href}

    def _explicit(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        """Exactly "yes" or "clean" (unstripped), else None."""
        text = _text(el)
        value = None if len(el.attrib) else _finish(text)
        entry[key] = True if value == "yes" else False if value == "clean" else None

    def _plain(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        """An element feedparser has no handler for: its attributes, else its text."""
        text = _text(el)
        entry[key] = _attrs(el) if len(el.attrib) else _finish(text.strip())

    def _link(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _no_attrs(el)
        raw = _text(el).strip()
        value = _finish(self._join(raw) if raw else raw)
        if "&" in value:
            value = _QUERY_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
        link = {"rel": "alternate", "type": "text/html"}
        entry.setdefault("links", []).append(link)
        entry["link"] = value
        if value:
            link["href"] = value

    def _guid(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        attrs = _attrs(el)
        if set(attrs) - {"ispermalink"}:
            raise _Decline
        is_link = attrs.get("ispermalink", "true") == "true"
        raw = _text(el).strip()
        entry["id"] = value = _finish(self._join(raw) if raw and is_link else raw)
        entry.setdefault("guidislink", is_link and "link" not in entry)
        if is_link:
            entry.setdefault("link", value)

    def _description(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        """description, summary, content:encoded and subtitle, with feedparser's rule that a
        summary-like element after a summary, before any content, is content."""
        _no_attrs(el)
        raw = _text(el).strip()
        if key in _CONTENT:
            self._has_content = True
            value = _finish(raw)
            entry.setdefault("content", []).append(_detail("text/html", value))
            entry.setdefault("summary", value)
        elif key in _SUBTITLE:
            kind, value = _guessed(raw)
            entry["subtitle"], entry["subtitle_detail"] = value, _detail(kind, value)
        elif "summary" in entry and not self._has_content:
            self._has_content = True
            kind, value = _guessed(raw)
            entry.setdefault("content", []).append(_detail(kind, value))
        elif key in _DESCRIPTION:
            value = _finish(raw)
            entry["summary"], entry["summary_detail"] = value, _detail("text/html", value)
        else:
            kind, value = _guessed(raw)
            entry["summary"], entry["summary_detail"] = value, _detail(kind, value)

    def _enclosure(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        _text(el)
        attrs = _attrs(el)
        href = attrs.get("url", attrs.get("uri", attrs.get("href")))
        if href:
            attrs.pop("url", None)
            attrs.pop("uri", None)
            attrs["href"] = href
        attrs["rel"] = "enclosure"
        entry.setdefault("links", []).append(attrs)

    def _thumbnail(self, el: etree._Element, key: str, entry: dict[str, Any]) -> None:
        attrs = _attrs(el)
        entry.setdefault("media_thumbnail", []).append(attrs)
        raw = _text(el).strip()
        url = _finish(self._join(raw) if raw else raw)
        if url.strip() and "url" not in attrs:
            attrs["url"] = url


_Reader = Callable[[_Items, etree._Element, str, dict[str, Any]], None]
_READERS: dict[str, _Reader] = {
    **dict.fromkeys(_TITLE, _Items._title),
    "link": _Items._link,
    **dict.fromkeys(_GUID, _Items._guid),
    **dict.fromkeys(_PUBLISHED | _UPDATED, _Items._date),
    **dict.fromkeys(_DESCRIPTION | _SUMMARY | _CONTENT | _SUBTITLE, _Items._description),
    "enclosure": _Items._enclosure,
    "media_content": _Items._media_content,
    "media_thumbnail": _Items._thumbnail,
    **dict.fromkeys(_IMAGE, _Items._image),
    "itunes_explicit": _Items._explicit,
    **dict.fromkeys(_PLAIN, _Items._plain),
}


def _check_inert(names: _Names, key: str, el: etree._Element) -> None:
    """Elements feedparser handles without touching what we read: childless ones it
    knows, podlove chapters that all have a start, and unknown ones (all the way down)
    whose text lands under keys we do not read."""
    if key in _INERT:
        _text(el)
    elif key == "itunes_category":
        if any(names(nested.tag) != key for nested in el.iterdescendants(etree.Element)):
            raise _Decline
    elif key == "psc_chapters":
        for nested in el.iterchildren(etree.Element):
            if names(nested.tag) != "psc_chapter" or "start" not in _attrs(nested):
                raise _Decline
            _text(nested)
    elif not len(el):  # the common case of the last one, without walking a subtree
        if not _unhandled(key):
            raise _Decline
    elif not all(_unhandled(names(nested.tag)) for nested in el.iter(etree.Element)):
        raise _Decline


@functools.lru_cache(maxsize=4096)  # bounded: element names come from untrusted feeds
def _unhandled(key: str) -> bool:
    """feedparser has no handler for the element and stores it where we do not look."""
    return not (
        hasattr(StrictFeedParser, f"_start_{key}")
        or hasattr(StrictFeedParser, f"_end_{key}")
        or key in _READ
        or key in FeedParserDict.keymap
    )


def feedparser_read(data: bytes, headers: Mapping[str, str]) -> Any:
    """feedparser on bytes, as this project uses it: its sanitiser and relative-URI
    resolution off (``sanitize`` does both), the HTTP headers given."""
    return feedparser.parse(
        io.BytesIO(data),
        response_headers=dict(headers),
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _read_channel(
    root: etree._Element, items: list[etree._Element], headers: Mapping[str, str]
) -> Mapping[str, Any] | None:
    """feedparser's reading of the document without its items: the channel exactly as it
    reads it in the whole document (the items come last, and feedparser keeps their data
    apart), at a small part of the cost. Removes the items from the tree."""
    for item in items:
        parent = item.getparent()
        if parent is not None:
            parent.remove(item)
    skeleton = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    result = feedparser_read(skeleton, headers)
    if result.get("bozo") or result.get("entries"):
        return None
    return result
