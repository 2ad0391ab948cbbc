"""Where a feed's items are, byte for byte, found in one cheap expat pass.

A podcast feed that gained an episode is the same bytes with one item more. Hashing each
item's exact bytes tells which items are new or edited; :func:`subset` then cuts the others
out of the document, so feedparser and extraction read only what changed, in the very
context (prolog, namespaces, channel) the whole feed gives them. Pure: no I/O, no clock.

The scan refuses (returns None) anything it cannot vouch for byte for byte: malformed XML,
a DOCTYPE (entity declarations are rewritten before parsing), or a non-ASCII-compatible
encoding. The caller then parses the whole document, as it would without the scan.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.parsers import expat

DIGEST_SIZE = 8  # bytes per item digest: a collision needs 2**32 items of one feed
_ITEM_NAMES = frozenset({"item", "entry"})
_KEY_TEXT = frozenset({"guid", "id", "link"})
_ENCLOSURE_ATTRS = {"enclosure": "url", "content": "url"}  # RSS enclosure, media:content
# Channel-level dates change with every episode but say nothing about the items.
_VOLATILE = re.compile(
    rb"(<(?:[\w.-]+:)?(?:lastBuildDate|pubDate|updated|date|published)\b[^>]*>)[^<]*(</)"
)


@dataclass(frozen=True, slots=True)
class ItemSpan:
    start: int  # offset of "<item"
    end: int  # offset just past "</item>" (or "/>")
    digest: bytes
    key: str | None  # guid, else enclosure URL, else link, as written: spots duplicates


@dataclass(frozen=True, slots=True)
class FeedScan:
    context: bytes  # digest of all but the items and the space between them, dates blanked
    items: tuple[ItemSpan, ...]


def _local(name: str) -> str:
    return name.rpartition(":")[2]


class _Scanner:
    """Expat callbacks: item boundaries, plus the few small values that identify an item."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.parser = expat.ParserCreate()
        self.parser.buffer_text = True
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.depth = 0
        self.channel_depth = 0  # depth of <channel>, when the items sit inside one
        self.item_depth = 0
        self.item_start = 0
        self.text: list[str] | None = None
        self.values: dict[str, str] = {}
        self.spans: list[tuple[int, int, str | None]] = []
        self.has_doctype = False

    def doctype(self, *_: object) -> None:
        self.has_doctype = True

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        local = _local(name)
        if not self.item_depth:
            parent_ok = self.depth == 2 or (self.channel_depth and self.depth == 3)
            if local in _ITEM_NAMES and parent_ok:
                self.item_depth = self.depth
                self.item_start = self.parser.CurrentByteIndex
                self.values = {}
            elif local == "channel" and self.depth == 2:
                self.channel_depth = 2
            return
        if self.depth != self.item_depth + 1:
            return
        if name == "link" and "href" in attrs:  # Atom
            rel = attrs.get("rel", "alternate")
            if rel in ("alternate", "enclosure"):
                self.values.setdefault("link" if rel == "alternate" else "enclosure", attrs["href"])
        elif name in _KEY_TEXT:
            self.text = []
            self.parser.CharacterDataHandler = self.text.append
        elif local in _ENCLOSURE_ATTRS and attrs.get(_ENCLOSURE_ATTRS[local]):
            self.values.setdefault("enclosure", attrs[_ENCLOSURE_ATTRS[local]])

    def end(self, name: str) -> None:
        if self.text is not None and self.depth == self.item_depth + 1:
            self.parser.CharacterDataHandler = None
            field = "link" if name == "link" else "guid"
            self.values.setdefault(field, " ".join("".join(self.text).split()))
            self.text = None
        elif self.item_depth and self.depth == self.item_depth:
            end = self.data.index(b">", self.parser.CurrentByteIndex) + 1
            v = self.values
            key = v.get("guid") or v.get("enclosure") or v.get("link") or None
            self.spans.append((self.item_start, end, key))
            self.item_depth = 0
        self.depth -= 1


def scan_items(data: bytes) -> FeedScan | None:
    """The items of an RSS or Atom document with their byte spans and digests, or None."""
    head = data[:4]
    if not data or b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    scanner = _Scanner(data)
    try:
        scanner.parser.Parse(data, True)
    except (expat.ExpatError, ValueError, LookupError):
        return None
    if scanner.has_doctype:
        return None
    items = tuple(
        ItemSpan(
            start, end, hashlib.blake2b(data[start:end], digest_size=DIGEST_SIZE).digest(), key
        )
        for start, end, key in scanner.spans
    )
    # Whitespace between items is not context: a feed with one item more has one gap more.
    skeleton = b"".join(part for part in _outside(data, items) if part.strip())
    skeleton = _VOLATILE.sub(rb"\1\2", skeleton)
    return FeedScan(context=hashlib.blake2b(skeleton, digest_size=16).digest(), items=items)


def _outside(data: bytes, items: tuple[ItemSpan, ...]) -> Iterable[bytes]:
    at = 0
    for item in items:
        yield data[at : item.start]
        at = item.end
    yield data[at:]


def subset(data: bytes, scan: FeedScan, keep: Iterable[int]) -> bytes:
    """The document with only the items at positions ``keep``; all else byte for byte."""
    wanted = set(keep)
    parts: list[bytes] = []
    at = 0
    for i, item in enumerate(scan.items):
        if i not in wanted:
            parts.append(data[at : item.start])
            at = item.end
    parts.append(data[at:])
    return b"".join(parts)


INDEX_VERSION = 1
_RECORD = struct.Struct(f"<{DIGEST_SIZE}sd")
_CONTEXT_SIZE = 16


@dataclass(frozen=True, slots=True)
class ItemIndex:
    """What the store knows of a feed's current items: each item's digest with its
    episode's publication time (POSIX seconds, NaN for none), all read in one ``context``.

    It lists exactly the items of the last document stored, so an item that comes back
    after an edit was undone is new again.
    """

    context: bytes
    published: Mapping[bytes, float]

    def to_bytes(self) -> bytes:
        records = b"".join(_RECORD.pack(d, p) for d, p in self.published.items())
        return bytes([INDEX_VERSION]) + self.context + records

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> ItemIndex | None:
        """None for a missing, foreign or damaged index: then the feed is read whole."""
        if not blob or blob[0] != INDEX_VERSION:
            return None
        body = blob[1 + _CONTEXT_SIZE :]
        if len(blob) < 1 + _CONTEXT_SIZE or len(body) % _RECORD.size:
            return None
        return cls(
            context=blob[1 : 1 + _CONTEXT_SIZE],
            published=dict(_RECORD.iter_unpack(body)),
        )
