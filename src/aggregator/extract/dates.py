"""Publication dates from metadata and from the lines pages and transcripts print.

Sources, most trusted first: JSON-LD ``datePublished``, publishing meta tags, front
matter, a labelled line ("Published …", "Posted on …", "Aired …", "Date: …"), the first
``<time datetime>``, a date standing alone near the top, and only then "Recorded …":
when a transcript gives both, the published date wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aggregator.parse.document import Document

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_ISO = re.compile(
    r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_MDY = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I)
_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+(\d{{4}})\b", re.I)
_SLASHED = re.compile(r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b")
_PUBLISHED = re.compile(
    r"\b(?:published|posted|released|aired|air\s+date|release\s+date|date|first\s+aired|"
    r"premiered)\b\s*(?:on|:)?\s*",
    re.I,
)
_RECORDED = re.compile(r"\brecorded\b\s*(?:on|:)?\s*", re.I)
_META_KEYS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "publish_date",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
    "citation_publication_date",
)
_FRONT_KEYS = ("date", "published", "pubdate", "publish_date", "published_at", "aired")
_NEAR = 48
_TOP_BLOCKS = 12


def parse_date(text: str) -> datetime | None:
    """The first date written in ``text``; midnight UTC when it has no time."""
    best: tuple[int, datetime] | None = None
    for pattern in (_ISO, _MDY, _DMY, _SLASHED):
        m = pattern.search(text)
        if not m:
            continue
        value = _from_match(pattern, m)
        if value is not None and (best is None or m.start() < best[0]):
            best = (m.start(), value)
    return best[1] if best else None


def _from_match(pattern: re.Pattern[str], m: re.Match[str]) -> datetime | None:
    try:
        if pattern is _ISO:
            year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if m.group(4):
                tz = _tz(m.group(7))
                return datetime(
                    year,
                    month,
                    day,
                    int(m.group(4)),
                    int(m.group(5)),
                    int(m.group(6) or 0),
                    tzinfo=tz,
                )
            return datetime(year, month, day, tzinfo=UTC)
        if pattern is _MDY:
            return datetime(
                int(m.group(3)), _MONTHS[m.group(1)[:3].lower()], int(m.group(2)), tzinfo=UTC
            )
        if pattern is _DMY:
            return datetime(
                int(m.group(3)), _MONTHS[m.group(2)[:3].lower()], int(m.group(1)), tzinfo=UTC
            )
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _tz(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    try:
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
    except ValueError:
        return UTC


def labelled(lines: Iterable[str]) -> tuple[datetime | None, datetime | None]:
    """(published, recorded) from lines like 'Recorded 2024-02-27 · Published 2024-03-04'."""
    published = recorded = None
    for line in lines:
        if published is None:
            published = _after(_PUBLISHED, line)
        if recorded is None:
            recorded = _after(_RECORDED, line)
    return published, recorded


def _after(label: re.Pattern[str], line: str) -> datetime | None:
    for m in label.finditer(line):
        found = parse_date(line[m.end() : m.end() + _NEAR])
        if found:
            return found
    return None


def published_date(doc: Document) -> datetime | None:
    """The episode's publication date as the document states it, or None."""
    for obj in doc.jsonld:
        for k in ("datePublished", "uploadDate", "dateCreated"):
            found = _value_date(obj.get(k))
            if found:
                return found
    for k in _META_KEYS:
        found = _value_date(doc.meta.get(k))
        if found:
            return found
    top = _top_lines(doc)
    published, recorded = labelled(top)
    if published:
        return published
    for value in doc.times:
        found = parse_date(value)
        if found:
            return found
    for line in top:
        if len(line) <= 40:
            found = parse_date(line)
            if found and _mostly_date(line):
                return found
    return recorded


def _value_date(value: Any) -> datetime | None:
    return parse_date(value) if isinstance(value, str) else None


def _top_lines(doc: Document) -> list[str]:
    lines = [f"{k}: {doc.meta[k]}" for k in _FRONT_KEYS if doc.meta.get(k)]
    if doc.kind == "transcript":
        return lines + list(doc.header)
    main = [b.text for b in doc.blocks if b.region == "main" and b.kind != "cue"]
    return lines + main[:_TOP_BLOCKS]


def _mostly_date(line: str) -> bool:
    letters = re.sub(rf"(?i){_MONTH}|\d|[\s,./:-]|st|nd|rd|th", "", line)
    return len(letters) <= 3
