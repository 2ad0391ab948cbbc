"""Chapters written in show notes: "00:00 Intro" list items, table rows or text lines."""

from __future__ import annotations

import re

from aggregator.model import Chapter
from aggregator.parse.document import Document

_LINE = re.compile(
    r"^[\[(]?(?:(\d{1,2}):)?(\d{1,2}):(\d{2})[\])]?\s*(?:[-–—:|·•]\s*)?(\S.{0,140})$"
)
_MIN_ROWS = 2
_last: list[tuple[Document | None, tuple[Chapter, ...]]] = [(None, ())]


def chapters_of(doc: Document) -> tuple[Chapter, ...]:
    """A reader's chapter list, else two or more timestamped lines of the main content.

    Remembered for the last document: the sponsor and self-promotion stages and the
    episode itself read the chapters of one (frozen) document in turn."""
    last_doc, found = _last[0]  # one read: another thread may replace it
    if last_doc is not doc:
        found = _chapters(doc)
        _last[0] = (doc, found)
    return found


def _chapters(doc: Document) -> tuple[Chapter, ...]:
    if doc.chapters:
        return tuple(Chapter(start, title) for start, title in doc.chapters)
    found: list[Chapter] = []
    for block in doc.blocks:
        if block.region != "main" or block.kind not in ("item", "row", "para"):
            continue
        m = _LINE.match(block.text)
        if m:
            start = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
            found.append(Chapter(start, m.group(4).strip()))
    return tuple(found) if len(found) >= _MIN_ROWS else ()
