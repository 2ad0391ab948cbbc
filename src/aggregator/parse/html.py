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
_MAYBE_CHROME = _CHROME_TAGS | {"header"}  # chrome for their tag alone, not only their names
_CHROME_NAME = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|sidebar|footer|related|comments?|share|"
    r"sharing|social|breadcrumbs?|cookie|widget|top-?bar|site-header|masthead|pagination|"
    r"recent|popular|past-sponsors?|more-episodes)(?:$|[\s_-])",
    re.I,
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
# lxml.html's own parser, minus its element class lookup: that lookup is a Python call for
# every element the walk touches, and nothing here needs lxml.html's element methods.
_PARSER = etree.HTMLParser()
_STRING = etree.XPath("string()", smart_strings=False)
# The elements the page-wide rules read (head, main content, times), found in one pass.
_LANDMARKS = ("meta", "script", "title", "link", "main", "article", "time")
# Role values as smart strings, which know their element: three times faster than asking
# for the elements that have a role.
_ROLES = etree.XPath("descendant-or-self::*/@role")


def clean_ws(text: str) -> str:
    """Collapse runs of spaces (keeping newlines), drop invisible characters."""
    # Most text has nothing to change, which str's own tests tell several times faster than a
    # regular expression's scan: ASCII has no invisible characters, and every character
    # either pattern removes or collapses, bar the single space, fails isprintable.
    if text.isascii():
        if not ("  " in text or "\t" in text or "\r" in text or "\f" in text or "\v" in text):
            return text
    elif text.isprintable() and "  " not in text:
        return text
    else:
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


# A run of inline text: (text, href of the link it is in, whether bold).
_Piece = tuple[str, str | None, bool]


@dataclass
class _State:
    blocks: list[Block] = field(default_factory=list)
    section: str | None = None
    containers: int = 0


def read_html(data: bytes | str, *, url: str | None = None, fragment: bool = False) -> Document:
    """Read a whole page (or, with ``fragment``, a feed item's show notes)."""
    text = _XML_DECL.sub("", decode(data))
    if not text or text.isspace():
        return Document(kind="html", url=url)
    try:
        root = _fragment(text) if fragment else lxml_html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        log.debug("unreadable HTML (%s): %s", url or "input", exc)
        return Document(kind="html", url=url)
    found: dict[str, list[Any]] = {}
    for el in root.iter(*_LANDMARKS):
        found.setdefault(el.tag, []).append(el)
    meta, jsonld, head_title, canonical = _head(found)
    main = _main_root(root, found)
    state = _State()
    region: Region = "chrome" if main is not None else "main"
    _walk(root, root.tag, main, state, region, container=0)
    blocks = tuple(state.blocks)
    titles = _titles(blocks, meta, jsonld, head_title)
    times = tuple(
        str(t.get("datetime")).strip()
        for t in found.get("time", ())
        if t.get("datetime") and (main is None or t is main or main in t.iterancestors())
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


def _fragment(text: str) -> Any:
    """``lxml.html.fragment_fromstring(text, create_parent="div")`` with :data:`_PARSER`, the
    parsed <body> made that <div> in place: moving its children into a new element adds
    5-10 % to the parse."""
    parts = lxml_html.fragments_fromstring(text, parser=_PARSER)
    lead = parts.pop(0) if parts and isinstance(parts[0], str) else None
    if not parts:
        root = etree.Element("div")
    else:
        root = parts[0].getparent()
        root.attrib.clear()
        root.tag = "div"
    root.text = lead
    return root


def _head(
    found: dict[str, list[Any]],
) -> tuple[dict[str, str], tuple[dict[str, Any], ...], str | None, str | None]:
    meta: dict[str, str] = {}
    for el in found.get("meta", ()):
        key = el.get("property") or el.get("name") or el.get("itemprop")
        content = el.get("content")
        if key and content and key.lower() not in meta:
            meta[key.lower()] = clean_ws(content).strip()
    jsonld: list[dict[str, Any]] = []
    for el in found.get("script", ()):
        if (el.get("type") or "").lower() == "application/ld+json" and el.text:
            jsonld.extend(_jsonld_objects(el.text))
    title_el = next(iter(found.get("title", ())), None)
    head_title = clean_ws(_STRING(title_el)).strip() if title_el is not None else None
    canonical = None
    for el in found.get("link", ()):
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


def _main_root(root: Any, found: dict[str, list[Any]]) -> Any | None:
    """The element holding the episode: <main>, else the only/first <article>."""
    for tag in ("main", "article"):
        for el in found.get(tag, ()):
            if not _is_chrome(el, tag):
                return el
    for role in _ROLES(root):
        if role.lower() == "main":
            return role.getparent()
    return None


def _is_chrome(el: Any, tag: str, inside_main: bool = False) -> bool:
    """Navigation, footers, sidebars and related posts. An <aside> within the episode's own
    <article>/<main> is a box of the episode (often its sponsor) unless named as chrome."""
    if tag == "aside" and inside_main:
        return _named_chrome(el)
    if tag in _CHROME_TAGS:
        return True
    if tag == "header":
        return not any(True for _ in el.iter("h1"))
    return _named_chrome(el)


def _named_chrome(el: Any) -> bool:
    """Whether an element's class, id or role names it as chrome."""
    cls, ident, role = el.get("class"), el.get("id"), el.get("role")
    if not (cls or ident or role):
        return False
    names = f"{cls or ''} {ident or ''} {role or ''}"
    return bool(names.strip()) and bool(_CHROME_NAME.search(names))


def _walk(
    el: Any,
    tag: str,
    main: Any | None,
    state: _State,
    region: Region,
    container: int,
    inside: bool = False,
) -> None:
    """Depth-first over block elements; each element's inline runs become blocks."""
    if tag in _SKIP:
        return
    if el is main:
        region, inside = "main", True
    elif (
        region == "main"
        and (tag in _MAYBE_CHROME or el.keys())  # most elements: no chrome tag, no attributes
        and tag not in ("html", "body")
        and _is_chrome(el, tag, inside)
    ):
        region = "chrome"
    if tag in _CONTAINERS:
        state.containers += 1
        container = state.containers
    text = el.text
    if not len(el):  # a leaf, as most paragraphs and list items are: its text is its run
        if text:
            _text_blocks(text, tag, state, region, container)
        return
    run: list[_Piece] = []
    plain = True  # the run holds only this element's own text and tails so far
    if text:
        run.append((text, None, False))
    for child in el:
        ctag = child.tag
        if ctag in _BLOCK:
            if run:
                _flush(run, plain, tag, state, region, container)
                run = []
                plain = True
            _walk(child, ctag, main, state, region, container, inside)
        elif isinstance(ctag, str) and ctag not in _SKIP:  # not a comment
            _inline(child, ctag, run, href=None, strong=False)
            plain = False
        tail = child.tail
        if tail:
            run.append((tail, None, False))
    if run:
        _flush(run, plain, tag, state, region, container)


def _inline(el: Any, tag: str, run: list[_Piece], href: str | None, strong: bool) -> None:
    if tag in _SKIP:
        return
    if tag == "br":
        run.append(("\n", None, False))
        return
    if tag == "a":
        target = el.get("href")
        if target:
            href = target.strip()
    if tag in ("strong", "b"):
        strong = True
    if tag in ("td", "th"):
        run.append((" ", None, False))
    if tag == "img":
        alt = (el.get("alt") or "").strip()
        if alt and href:
            run.append((alt, href, strong))
        return
    text = el.text
    if text:
        run.append((text, href, strong))
    for child in el:
        ctag = child.tag
        if not isinstance(ctag, str):
            ctag = ""
        if ctag in _BLOCK:
            run.append(("\n", None, False))
            _inline(child, ctag, run, href, strong)  # a block inside an inline: read it inline
            run.append(("\n", None, False))
        elif ctag:
            _inline(child, ctag, run, href, strong)
        tail = child.tail
        if tail:
            run.append((tail, href, strong))
    if tag == "a" and href and not text and not any(p[1] == href for p in run):
        run.append(("", href, strong))


def _flush(
    run: list[_Piece], plain: bool, tag: str, state: _State, region: Region, container: int
) -> None:
    """The run's lines as blocks. A ``plain`` run (no inline element in it: no links, nothing
    bold) is read as one string; most runs are, and most of those are only whitespace."""
    if plain:
        text = run[0][0] if len(run) == 1 else "".join([piece[0] for piece in run])
        if not text.isspace():
            _text_blocks(text, tag, state, region, container)
        return
    kind, level = _KINDS.get(tag, _PARA)
    for line in _lines(run):
        _block(line, kind, level, state, region, container)
        if kind == "item":
            kind = "para"  # a line break ends an item's first line


def _text_blocks(text: str, tag: str, state: _State, region: Region, container: int) -> None:
    """The blocks of a run that is one string, with no links and nothing bold in it."""
    kind, level = _KINDS.get(tag, _PARA)
    for line in text.split("\n"):
        body = clean_ws(line).strip()
        if body:
            _add(body, (), (), kind, level, state, region, container)
        if kind == "item":
            kind = "para"  # a line break ends an item's first line


def _lines(run: list[_Piece]) -> list[list[_Piece]]:
    """The run split at line breaks outside links (a line break ends an item's first line)."""
    if not any(href is None and "\n" in text for text, href, _ in run):
        return [run]
    lines: list[list[_Piece]] = [[]]
    for text, href, strong in run:
        if href is None and "\n" in text:
            parts = text.split("\n")
            lines[-1].append((parts[0], None, strong))
            for part in parts[1:]:
                lines.append([(part, None, strong)])
        else:
            lines[-1].append((text, href, strong))
    return lines


_KINDS: dict[str, tuple[BlockKind, int]] = {
    **{tag: ("heading", level) for tag, level in _HEADINGS.items()},
    "li": ("item", 0),
    "dt": ("item", 0),
    "dd": ("item", 0),
    "tr": ("row", 0),
}
_PARA: tuple[BlockKind, int] = ("para", 0)
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2023\u25e6\u2043\u2219\u00b7]|\d{1,2}[.)])\s+")


def _block(
    pieces: list[_Piece], kind: BlockKind, level: int, state: _State, region: Region, container: int
) -> None:
    if not any(href is not None for _, href, _ in pieces):
        body = _plain_text(pieces).strip()
        if body:
            _add(body, (), tuple(_strong(pieces)), kind, level, state, region, container)
        return
    text, spans, strong = _linked_text(pieces)
    body = text.lstrip()
    lead = len(text) - len(body)
    links = []
    for href, start, end in spans:
        label = text[start:end].strip()
        links.append(Link(label, href, start - lead if label else -1))
    _add(body.rstrip(), tuple(links), tuple(strong), kind, level, state, region, container)


def _add(
    body: str,
    links: tuple[Link, ...],
    strong: tuple[str, ...],
    kind: BlockKind,
    level: int,
    state: _State,
    region: Region,
    container: int,
) -> None:
    """One block: a bullet makes a paragraph an item, a short bold or colon-ended one a
    heading, and a heading opens the section of the blocks after it."""
    if kind == "para":
        bullet = _BULLET.match(body)
        if bullet:
            cut = bullet.end()
            body = body[cut:]
            links = tuple(
                Link(lk.text, lk.href, lk.start - cut if lk.start >= cut else -1) for lk in links
            )
            kind = "item"
        elif len(body) <= 60 and _heading_like(body, strong):
            kind, level = "heading", 6
    if kind == "heading":
        state.section = body.rstrip(":").strip()
        section = None
    else:
        section = state.section
    state.blocks.append(
        Block(
            text=body,
            kind=kind,
            level=level,
            links=links,
            section=section,
            region=region,
            strong=strong,
            container=container,
        )
    )


def _plain_text(pieces: list[_Piece]) -> str:
    """A line without links, cleaned as a whole: what cleaning piece by piece and dropping
    a space that would double one gives, in one pass (``_lines`` left no line breaks)."""
    text = clean_ws("".join(text for text, _, _ in pieces))
    return text[1:] if text.startswith(" ") else text


def _strong(pieces: list[_Piece]) -> list[str]:
    """The bold runs of a line without links, as ``_linked_text`` gives them."""
    return [
        chunk for chunk in (clean_ws(text).strip() for text, _, strong in pieces if strong) if chunk
    ]


def _linked_text(pieces: list[_Piece]) -> tuple[str, list[list[Any]], list[str]]:
    """A line's text, where its links sit in it ([href, start, end]) and its bold runs."""
    text = ""
    spans: list[list[Any]] = []
    strong: list[str] = []
    for piece, href, bold in pieces:
        chunk = clean_ws(piece.replace("\n", " "))
        if chunk.startswith(" ") and (not text or text.endswith(" ")):
            chunk = chunk[1:]
        if href is not None:
            start = len(text)
            end = start + len(chunk)
            if spans and spans[-1][0] == href and spans[-1][2] == start:
                spans[-1][2] = end
            else:
                spans.append([href, end - len(chunk.lstrip()), end])
        if bold:
            words = chunk.strip()
            if words:
                strong.append(words)
        text += chunk
    return text, spans, strong


def _heading_like(text: str, strong: tuple[str, ...]) -> bool:
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
