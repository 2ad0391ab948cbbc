"""Markdown show notes with Pelican, YAML (Jekyll style) or TOML front matter -> Document.

The body is rendered by markdown-it and read by the HTML reader, so headings, lists,
links and the raw HTML banners that show notes often embed get the same structure as
on a web page.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import date, datetime
from typing import Any

from markdown_it import MarkdownIt
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from aggregator.parse.document import Document
from aggregator.parse.html import clean_ws, decode, read_html

log = logging.getLogger(__name__)

_PELICAN_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_-]{0,30}):\s*(.*)$")
_KNOWN_KEYS = frozenset(
    {
        "title",
        "date",
        "modified",
        "category",
        "tags",
        "slug",
        "authors",
        "author",
        "summary",
        "status",
        "url",
        "save_as",
        "lang",
        "guests",
        "guest",
        "episode",
        "number",
        "layout",
        "permalink",
        "published",
        "description",
        "hosts",
        "host",
        "season",
        "duration",
        "audio",
    }
)
_MD = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Front matter as lower-cased string values, and the body after it."""
    text = text.lstrip("\ufeff")
    stripped = text.lstrip()
    for fence, loader in (("---", _yaml), ("+++", _toml)):
        if stripped.startswith(fence + "\n") or stripped.startswith(fence + "\r\n"):
            rest = stripped[len(fence) :].lstrip("\r\n")
            end = re.search(rf"^{re.escape(fence)}\s*$", rest, re.M)
            if end:
                data = loader(rest[: end.start()])
                if data is not None:
                    return _flatten(data), rest[end.end() :]
    return _pelican(text)


def _yaml(text: str) -> dict[str, Any] | None:
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return None
    except Exception:  # ruamel raises assorted errors on odd scalars
        return None
    return data if isinstance(data, dict) else None


def _toml(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _flatten(data: dict[Any, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        if value is None or key is None or not str(key).strip():
            continue
        if isinstance(value, list | tuple):
            items = [_scalar(v) for v in value if v is not None]
            out[str(key).strip().lower()] = "; ".join(i for i in items if i)
        else:
            out[str(key).strip().lower()] = _scalar(value)
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return clean_ws(str(value)).strip()


def _pelican(text: str) -> tuple[dict[str, str], str]:
    """``Key: value`` lines at the very top. Blank lines between them carry no meaning, so
    re-wrapped notes read the same; a title or a date (or two known keys) must be there."""
    lines = text.splitlines(keepends=True)
    meta: dict[str, str] = {}
    consumed = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        m = _PELICAN_KEY.match(clean_ws(line).strip())
        if (
            not m
            or not m.group(2).strip()
            or m.group(2).startswith("//")
            or m.group(1).isupper()
            or m.group(1).lower() in meta
        ):
            break  # a repeated or shouted key is a speaker label, not metadata
        meta[m.group(1).lower()] = clean_ws(m.group(2)).strip()
        consumed = i + 1
    known = _KNOWN_KEYS & meta.keys()
    if not ({"title", "date"} & known or len(known) >= 2):
        return {}, text
    return meta, "".join(lines[consumed:])


def read_markdown(data: bytes | str, *, url: str | None = None) -> Document:
    text = decode(data)
    meta, body = split_front_matter(text)
    try:
        rendered = _MD.render(body)
    except (ValueError, RecursionError) as exc:
        log.debug("markdown render failed for %s: %s", url or "input", exc)
        rendered = ""
    doc = read_html(rendered, url=url, fragment=True)
    titles = ((meta["title"],) if meta.get("title") else ()) + doc.titles
    return Document(
        kind="markdown",
        blocks=doc.blocks,
        titles=titles,
        meta=meta,
        jsonld=doc.jsonld,
        times=doc.times,
        url=url or meta.get("url"),
    )
