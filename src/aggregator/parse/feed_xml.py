"""What feedparser does not read reliably, read once with lxml from the same bytes.

podcast:person, podcast:chapters, podcast:transcript, psc:chapters and the raw RSS guid
(feedparser resolves a permalink guid against the feed URL, which would change an
episode's identity when the feed moves) and the exact itunes:explicit/author/image values.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

from lxml import etree

from aggregator.extract.durations import parse_timestamp
from aggregator.model import Chapter, Person, Role
from aggregator.sanitize import clean_text, http_url

PODCAST_NS = frozenset(
    {
        "https://podcastindex.org/namespace/1.0",
        "http://podcastindex.org/namespace/1.0",
        "https://github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
    }
)
ITUNES_NS = frozenset({"http://www.itunes.com/dtds/podcast-1.0.dtd"})
PSC_NS = frozenset({"http://podlove.org/simple-chapters"})
ATOM_NS = frozenset({"http://www.w3.org/2005/atom", "http://purl.org/atom/ns#"})

BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# Best first: formats we can read with timestamps, then text.
TRANSCRIPT_TYPES = (
    "text/vtt",
    "application/x-subrip",
    "application/srt",
    "text/srt",
    "text/html",
    "text/plain",
    "application/json",
)
_HOST_ROLES = frozenset({"host", "co-host", "cohost", "guest host"})
_EXPLICIT = {
    "yes": True,
    "true": True,
    "explicit": True,
    "no": False,
    "false": False,
    "clean": False,
}


@dataclass(frozen=True, slots=True)
class Extras:
    """Per item (or for the channel) what we read with lxml."""

    guid: str | None = None
    explicit: bool | None = None
    author: str | None = None
    image: str | None = None
    people: tuple[Person, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    chapters_url: str | None = None
    transcript_url: str | None = None
    transcript_type: str | None = None


# podcast:person elements read so far in one document, by text and attributes: a feed names
# the same hosts in every item.
_People = dict[tuple[str, str | None, str | None, str | None], Person | None]


@dataclass(frozen=True, slots=True)
class XmlView:
    root: str | None  # local name of the root element ("rss", "feed", "html", ...)
    channel: Extras
    items: tuple[Extras, ...]


def read_xml(data: bytes, base_url: str | None = None, encoding: str | None = None) -> XmlView:
    """Parse once with lxml, recovering what it can of damaged documents.

    ``encoding`` overrides what the document declares (feedparser's finding, which weighs
    the HTTP charset too).
    """
    root = parse_xml(data, encoding=encoding, recover=True)
    if root is None:
        return XmlView(root=None, channel=Extras(), items=())
    return view_of(root, base_url)


def parse_xml(data: bytes, *, encoding: str | None = None, recover: bool) -> etree._Element | None:
    """The root element, None when there is none; never expands entities and never touches
    the network. Without ``recover`` any well-formedness error gives None."""
    options = {
        "resolve_entities": False,
        "no_network": True,
        "huge_tree": False,
        "recover": recover,
        "load_dtd": False,
        "remove_comments": True,
        "remove_pis": True,
    }
    try:
        parser = etree.XMLParser(encoding=encoding, **options)
    except LookupError:  # a charset name libxml2 does not know
        parser = etree.XMLParser(**options)
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError):
        return None
    return root if root is not None and isinstance(root.tag, str) else None


def view_of(root: etree._Element, base_url: str | None) -> XmlView:
    """What :class:`Extras` holds, for the channel and for every item in document order."""
    channel = next((c for c in _elements(root) if local_name(c.tag) == "channel"), root)
    people: _People = {}
    return XmlView(
        root=local_name(root.tag),
        channel=_extras(channel, base_url, people),
        items=tuple(_extras(item, base_url, people) for item in items_of(root)),
    )


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of an HTTP content type, as given."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


@functools.lru_cache(maxsize=4096)
def _name_ns(tag: str) -> tuple[str, str]:
    """Local name and namespace: a feed has few distinct tags and many elements."""
    return local_name(tag), _ns(tag)


def _ns(tag: str) -> str:
    return tag[1 : tag.find("}")].lower().rstrip("/") if tag.startswith("{") else ""


def items_of(root: etree._Element) -> list[etree._Element]:
    """Items and entries in document order: RSS 2 inside channel, RSS 1 and Atom under root."""
    found = []
    for child in _elements(root):
        name = local_name(child.tag)
        if name in ("item", "entry"):
            found.append(child)
        elif name == "channel":
            found.extend(c for c in _elements(child) if local_name(c.tag) in ("item", "entry"))
    return found


def _text(el: etree._Element) -> str:
    return clean_text(_raw_text(el))


def _raw_text(el: etree._Element) -> str:
    if not len(el):  # no child nodes: the text is all there is
        return el.text or ""
    return "".join(t for t in el.itertext() if isinstance(t, str))


def _extras(el: etree._Element, base_url: str | None, people_seen: _People) -> Extras:
    guid = explicit = author = image = chapters_url = None
    people: list[Person] = []
    chapters: list[Chapter] = []
    transcripts: list[tuple[str, str | None]] = []
    for child in el.iterchildren(etree.Element):
        name, ns = _name_ns(child.tag)
        if name in ("item", "entry"):
            continue
        if (name == "guid" and not ns) or (name == "id" and ns in ATOM_NS):
            guid = _text(child) or None
        elif ns in ITUNES_NS:
            if name == "explicit":
                explicit = _EXPLICIT.get(_text(child).casefold(), explicit)
            elif name == "author":
                author = _text(child) or author
            elif name == "image":
                image = http_url(child.get("href"), base_url) or image
        elif ns in PODCAST_NS:
            if name == "person":
                person = _person(child, people_seen)
                if person:
                    people.append(person)
            elif name == "chapters":
                chapters_url = http_url(child.get("url"), base_url) or chapters_url
            elif name == "transcript":
                url = http_url(child.get("url"), base_url)
                if url:
                    transcripts.append((url, (child.get("type") or "").strip().lower() or None))
        elif ns in PSC_NS and name == "chapters":
            chapters.extend(_psc_chapters(child, base_url))
    transcript_url, transcript_type = _best_transcript(transcripts)
    return Extras(
        guid=guid,
        explicit=explicit,
        author=author,
        image=image,
        people=tuple(people),
        chapters=tuple(chapters),
        chapters_url=chapters_url,
        transcript_url=transcript_url,
        transcript_type=transcript_type,
    )


def _person(el: etree._Element, seen: _People) -> Person | None:
    key = (_raw_text(el), el.get("role"), el.get("href"), el.get("img"))
    if key not in seen:
        seen[key] = _person_of(*key)
    return seen[key]


def _person_of(text: str, role: str | None, href: str | None, img: str | None) -> Person | None:
    """podcast:person; no role means host (Podcasting 2.0); crew roles are not people we list."""
    name = clean_text(text)
    role_attr = " ".join((role or "host").casefold().split())
    kind: Role
    if role_attr in _HOST_ROLES:
        kind = "host"
    elif role_attr == "guest":
        kind = "guest"
    else:
        return None
    if not name:
        return None
    return Person(name=name, role=kind, href=http_url(href, None), img=http_url(img, None))


def _psc_chapters(el: etree._Element, base_url: str | None) -> list[Chapter]:
    found = []
    for child in _elements(el):
        if local_name(child.tag) != "chapter":
            continue
        start = parse_timestamp(child.get("start"))
        title = clean_text(child.get("title") or "")
        if start is not None and title:
            found.append(
                Chapter(start=start, title=title, url=http_url(child.get("href"), base_url))
            )
    return found


def _best_transcript(found: list[tuple[str, str | None]]) -> tuple[str | None, str | None]:
    if not found:
        return None, None

    def rank(item: tuple[str, str | None]) -> int:
        kind = (item[1] or "").split(";")[0].strip()
        return TRANSCRIPT_TYPES.index(kind) if kind in TRANSCRIPT_TYPES else len(TRANSCRIPT_TYPES)

    return min(found, key=rank)  # min is stable: the first of equally good ones wins
