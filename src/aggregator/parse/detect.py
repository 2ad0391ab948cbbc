"""Which reader a document needs: feed, HTML page, markdown notes or transcript.

The bytes decide first (an RSS root, a doctype, ``WEBVTT``, front matter), because file
names and Content-Type headers on podcast sites are often wrong; the name and the header
only break ties.
"""

from __future__ import annotations

import re
from typing import Literal

from aggregator.parse.html import decode
from aggregator.parse.markdown import split_front_matter

Kind = Literal["feed", "html", "markdown", "transcript"]

_FEED_ROOT = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*|<\?[^>]*>\s*|<!DOCTYPE[^>]*>\s*)*"
    r"<(?:rss|feed|rdf:RDF)\b",
    re.S | re.I,
)
_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|div|p|"
    r"article|main|section|h[1-6]|ul|table|title)\b",
    re.S | re.I,
)
_TALK_LINE = re.compile(
    r"^\s*(?:[\[(]?(?:\d{1,2}:)?\d{1,2}:\d{2}\b|[A-Z][\w.'’-]*(?:[ \t]+[A-Z][\w.'’-]*){0,2}:\s)"
)
_MD_SIGNS = re.compile(r"^(?:#{1,6} \S|[*-] \[[^\]]+\]\(https?://)", re.M)
_EXT_KIND: dict[str, Kind] = {
    "xml": "feed",
    "rss": "feed",
    "atom": "feed",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "md": "markdown",
    "markdown": "markdown",
    "mdown": "markdown",
    "txt": "transcript",
    "vtt": "transcript",
    "srt": "transcript",
    "json": "transcript",
}
_TYPE_KIND: dict[str, Kind] = {
    "application/rss+xml": "feed",
    "application/atom+xml": "feed",
    "application/rdf+xml": "feed",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/vtt": "transcript",
    "application/x-subrip": "transcript",
    "application/srt": "transcript",
    "text/srt": "transcript",
    "application/json": "transcript",
    "text/plain": "transcript",
}


def detect_kind(
    data: bytes | str, *, filename: str | None = None, content_type: str | None = None
) -> Kind:
    head = decode(data[:65536]).lstrip("\ufeff")
    if _FEED_ROOT.match(head):
        return "feed"
    stripped = head.lstrip()
    if stripped.startswith("WEBVTT"):
        return "transcript"
    if _HTML_START.match(head):
        return "html"
    meta, body = split_front_matter(head)
    if meta:
        return "transcript" if _talk(body) else "markdown"
    hinted = _hint(filename, content_type)
    if hinted is not None and hinted != "feed":
        return hinted
    if len(_MD_SIGNS.findall(head[:8192])) >= 2:
        return "markdown"
    return "transcript"


def _talk(text: str) -> bool:
    """Mostly timestamped or speaker-labelled lines: a transcript, whatever its header."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    talk = sum(1 for ln in lines if _TALK_LINE.match(ln))
    return talk >= 3 and talk * 10 >= len(lines) * 3


def _hint(filename: str | None, content_type: str | None) -> Kind | None:
    if content_type:
        ctype = content_type.split(";")[0].strip().lower()
        if ctype in _TYPE_KIND:
            return _TYPE_KIND[ctype]
    if filename:
        name = filename.lower().rsplit("/", 1)[-1]
        if "." in name:
            return _EXT_KIND.get(name.rsplit(".", 1)[-1])
    return None
