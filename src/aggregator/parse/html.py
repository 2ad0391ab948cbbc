"""HTML episode pages and show-notes fragments -> :class:`Document`.

Pages bury the episode in site chrome (navigation, footers, sidebars, related posts), and
the sponsor and guest rules depend on structure (a "Sponsors" heading and the list under
it, a link's anchor text), so this reader keeps block structure and marks chrome rather
than flattening the page to text. lxml does the parsing; nothing here is hand-rolled HTML.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from aggregator.parse.document import Block, BlockKind, Document, Link, Region

log = logging.getLogger(__name__)

_SKIP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "iframe",
        "head",
        "audio",
        "video",
        "object",
        "canvas",
        "form",
        "button",
        "select",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "main",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "header",
        "footer",
        "nav",
        "aside",
        "body",
        "html",
        "hr",
        "address",
        "details",
        "summary",
        "caption",
    }
)
_CONTAINERS = frozenset(
    {
        "div",
        "section",
        "article",
        "main",
        "aside",
        "footer",
        "header",
        "blockquote",
        "figure",
        "details",
        "body",
    }
)
_CHROME_TAGS = frozenset({"nav", "aside", "footer"})
_CHROME_NAME = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|sidebar|footer|related|comments?|share|"
    r"sharing|social|breadcrumbs?|cookie|widget|top-?bar|site-header|masthead|pagination|"
    r"recent|popular|past-sponsors?|more-episodes)(?:$|[\s_-])",
    re.I,
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_UNCLEAN = re.compile(r"[^\x20-\x7e\n]|  ")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def clean_ws(text: str) -> str:
    """Collapse runs of spaces (keeping newlines), drop invisible characters."""
    if not _UNCLEAN.search(text):
        return text
    text = _INVISIBLE.sub("", text)
    return _WS.sub(" ", text)


def decode(data: bytes | str) -> str:
    """Bytes -> text: BOM, then a declared charset, then UTF-8 with replacement."""
    if isinstance(data, str):
        return data
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    m = _CHARSET.search(data[:4096])
    if m:
        try:
            return data.decode(m.group(1).decode("ascii"), "replace")
        except LookupError:
            pass
    return data.decode("utf-8", "replace")


@dataclass
class _Piece:
    text: str
    href: str | None = None
    strong: bool = False


@dataclass
class _State:
    blocks: list[Block] = field(default_factory=list)
    section: str | None = None
    containers: int = 0


def read_html(data: bytes | str, *, url: str | None = None, fragment: bool = False) -> Document:
    """Read a whole page (or, with ``fragment``, a feed item's show notes)."""
    text = _XML_DECL.sub("", decode(data))
    if not text.strip():
        return Document(kind="html", url=url)
    try:
        if fragment:
            root = lxml_html.fragment_fromstring(text, create_parent="div")
        else:
            root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        log.debug("unreadable HTML (%s): %s", url or "input", exc)
        return Document(kind="html", url=url)
    meta, jsonld, head_title, canonical = _head(root)
    main = _main_root(root)
    state = _State()
    _walk(root, main, state, region="chrome" if main is not None else "main", container=0)
    blocks = tuple(state.blocks)
    titles = _titles(blocks, meta, jsonld, head_title)
    times = tuple(
        str(t.get("datetime")).strip()
        for t in (main if main is not None else root).iter("time")
        if t.get("datetime")
    )
    return Document(
        kind="html",
        blocks=blocks,
        titles=titles,
        meta=meta,
        jsonld=jsonld,
        times=times,
        url=url or canonical,
    )


def _head(root: Any) -> tuple[dict[str, str], tuple[dict[str, Any], ...], str | None, str | None]:
    meta: dict[str, str] = {}
    for el in root.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop")
        content = el.get("content")
        if key and content and key.lower() not in meta:
            meta[key.lower()] = clean_ws(content).strip()
    jsonld: list[dict[str, Any]] = []
    for el in root.iter("script"):
        if (el.get("type") or "").lower() == "application/ld+json" and el.text:
            jsonld.extend(_jsonld_objects(el.text))
    title_el = next(iter(root.iter("title")), None)
    head_title = clean_ws(title_el.text_content()).strip() if title_el is not None else None
    canonical = None
    for el in root.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
            canonical = el.get("href")
            break
    return meta, tuple(jsonld), head_title or None, canonical


def _jsonld_objects(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    out: list[dict[str, Any]] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            out.append(item)
            if isinstance(item.get("@graph"), list):
                stack.extend(reversed(item["@graph"]))
    return out


def _main_root(root: Any) -> Any | None:
    """The element holding the episode: <main>, else the only/first <article>."""
    for tag in ("main", "article"):
        found = [el for el in root.iter(tag) if not _is_chrome(el)]
        if found:
            return found[0]
    for el in root.iter():
        if isinstance(el.tag, str) and (el.get("role") or "").lower() == "main":
            return el
    return None


def _is_chrome(el: Any, inside_main: bool = False) -> bool:
    """Navigation, footers, sidebars and related posts. An <aside> within the episode's own
    <article>/<main> is a box of the episode (often its sponsor) unless named as chrome."""
    tag = el.tag if isinstance(el.tag, str) else ""
    names = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('role') or ''}"
    named = bool(names.strip()) and bool(_CHROME_NAME.search(names))
    if tag == "aside" and inside_main:
        return named
    if tag in _CHROME_TAGS:
        return True
    if tag == "header":
        return not any(True for _ in el.iter("h1"))
    return named


def _walk(
    el: Any, main: Any | None, state: _State, region: Region, container: int, inside: bool = False
) -> None:
    """Depth-first over block elements; each element's inline runs become blocks."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _SKIP:
        return
    if el is main:
        region, inside = "main", True
    if (
        region == "main"
        and tag not in ("html", "body")
        and el is not main
        and _is_chrome(el, inside)
    ):
        region = "chrome"
    if tag in _CONTAINERS:
        state.containers += 1
        container = state.containers
    run: list[_Piece] = []
    if el.text:
        run.append(_Piece(el.text))
    for child in el:
        ctag = child.tag if isinstance(child.tag, str) else ""
        if ctag in _BLOCK:
            _flush(run, el, state, region, container)
            run = []
            _walk(child, main, state, region, container, inside)
        elif ctag and ctag not in _SKIP:
            _inline(child, run, href=None, strong=False)
        if child.tail:
            run.append(_Piece(child.tail))
    _flush(run, el, state, region, container)


def _inline(el: Any, run: list[_Piece], href: str | None, strong: bool) -> None:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _SKIP:
        return
    if tag == "br":
        run.append(_Piece("\n"))
        return
    if tag == "a" and el.get("href"):
        href = el.get("href").strip()
    if tag in ("strong", "b"):
        strong = True
    if tag in ("td", "th"):
        run.append(_Piece(" "))
    if tag == "img":
        alt = (el.get("alt") or "").strip()
        if alt and href:
            run.append(_Piece(alt, href, strong))
        return
    if el.text:
        run.append(_Piece(el.text, href, strong))
    for child in el:
        ctag = child.tag if isinstance(child.tag, str) else ""
        if ctag in _BLOCK:
            run.append(_Piece("\n"))
            _inline(child, run, href, strong)  # a block inside an inline: read it inline
            run.append(_Piece("\n"))
        elif ctag:
            _inline(child, run, href, strong)
        if child.tail:
            run.append(_Piece(child.tail, href, strong))
    if tag == "a" and href and not any(p.href == href for p in run):
        run.append(_Piece("", href, strong))


def _flush(run: list[_Piece], el: Any, state: _State, region: Region, container: int) -> None:
    if not run:
        return
    kind, level = _kind_of(el)
    lines: list[list[_Piece]] = [[]]
    for piece in run:
        if piece.href is None and "\n" in piece.text:
            parts = piece.text.split("\n")
            lines[-1].append(_Piece(parts[0], None, piece.strong))
            for part in parts[1:]:
                lines.append([_Piece(part, None, piece.strong)])
        else:
            lines[-1].append(piece)
    for i, line in enumerate(lines):
        block = _block(
            line, kind if i == 0 or kind != "item" else "para", level, state, region, container
        )
        if block is not None:
            state.blocks.append(block)


def _kind_of(el: Any) -> tuple[BlockKind, int]:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _HEADINGS:
        return "heading", _HEADINGS[tag]
    if tag in ("li", "dt", "dd"):
        return "item", 0
    if tag == "tr":
        return "row", 0
    return "para", 0


_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6\u2043\u2219\u00b7]|\d{1,2}[.)])\s+")


def _block(
    pieces: list[_Piece], kind: BlockKind, level: int, state: _State, region: Region, container: int
) -> Block | None:
    text = ""
    spans: list[list[Any]] = []  # [href, start, end]
    strong: list[str] = []
    for piece in pieces:
        chunk = clean_ws(piece.text.replace("\n", " "))
        if (not text or text.endswith(" ")) and chunk.startswith(" "):
            chunk = chunk[1:]
        if piece.href is not None:
            lead = len(chunk) - len(chunk.lstrip())
            if spans and spans[-1][0] == piece.href and spans[-1][2] == len(text):
                spans[-1][2] = len(text) + len(chunk)
            else:
                spans.append([piece.href, len(text) + lead, len(text) + len(chunk)])
        if piece.strong and chunk.strip():
            strong.append(chunk.strip())
        text += chunk
    body = text.strip()
    lead = len(text) - len(text.lstrip())
    links = []
    for href, start, end in spans:
        label = text[start:end].strip()
        links.append(Link(label, href, start - lead if label else -1))
    if not body and not links:
        return None
    bullet = _BULLET.match(body)
    if bullet and kind == "para":
        cut = bullet.end()
        body = body[cut:]
        links = [Link(lk.text, lk.href, lk.start - cut if lk.start >= cut else -1) for lk in links]
        kind = "item"
    if kind == "para" and _heading_like(body, strong):
        kind, level = "heading", 6
    if kind == "heading":
        state.section = body.rstrip(":").strip()
        section = None
    else:
        section = state.section
    return Block(
        text=body,
        kind=kind,
        level=level,
        links=tuple(links),
        section=section,
        region=region,
        strong=tuple(strong),
        container=container,
    )


def _heading_like(text: str, strong: list[str]) -> bool:
    """A short paragraph that is all bold, or a short label ending in a colon."""
    if not text or len(text) > 60:
        return False
    if strong and " ".join(strong).strip().rstrip(":") == text.rstrip(":").strip():
        return True
    return text.endswith(":") and len(text) <= 40 and text.count(" ") <= 4


def _titles(
    blocks: tuple[Block, ...],
    meta: dict[str, str],
    jsonld: tuple[dict[str, Any], ...],
    head_title: str | None,
) -> tuple[str, ...]:
    out: list[str] = []
    h1 = [b.text for b in blocks if b.kind == "heading" and b.level == 1 and b.region == "main"]
    out.extend(h1[:1])
    for key in ("og:title", "twitter:title"):
        if meta.get(key):
            out.append(meta[key])
    for obj in jsonld:
        for key in ("name", "headline"):
            if isinstance(obj.get(key), str) and _is_episode_type(obj):
                out.append(clean_ws(obj[key]).strip())
    if head_title:
        out.append(head_title)
    seen: set[str] = set()
    return tuple(t for t in out if t and not (t in seen or seen.add(t)))


def _is_episode_type(obj: dict[str, Any]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(
        str(k)
        in (
            "PodcastEpisode",
            "Episode",
            "BlogPosting",
            "Article",
            "NewsArticle",
            "WebPage",
            "RadioEpisode",
        )
        for k in kinds
    )
