"""Podcasting 2.0 JSON chapters (the file ``podcast:chapters`` points at), bytes in."""

from __future__ import annotations

import json
import math
from typing import Any

from aggregator.extract.durations import MAX_SECONDS, parse_timestamp
from aggregator.model import Chapter, ParseError
from aggregator.normalise import ordered_chapters
from aggregator.sanitize import clean_text, http_url


def parse_chapters_json(data: bytes) -> tuple[Chapter, ...]:
    """Chapters in start order. ``toc: false`` entries (artwork changes, not sections) and
    entries without a usable start or title are left out; a document that is not the
    chapters format raises :class:`ParseError`."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"chapters: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("chapters"), list):
        raise ParseError("chapters: expected an object with a 'chapters' list")
    found = []
    for item in doc["chapters"]:
        chapter = _chapter(item) if isinstance(item, dict) else None
        if chapter:
            found.append(chapter)
    return ordered_chapters(found)


def _chapter(item: dict[str, Any]) -> Chapter | None:
    if item.get("toc") is False:
        return None
    start = _seconds(item.get("startTime"))
    title = item.get("title")
    title = clean_text(title) if isinstance(title, str) else ""
    if start is None or not title:
        return None
    url = item.get("url")
    return Chapter(start=start, title=title, url=http_url(url) if isinstance(url, str) else None)


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
            return None
        return int(value)
    if isinstance(value, str):
        return parse_timestamp(value)
    return None
