"""Remove a document's entity declarations before any XML parser sees it.

Neither parser may expand them: expat (under feedparser) stops a billion-laughs document,
but feedparser then falls back to its loose parser, which expands the "safe" entities it
kept, so a quadratic blow-up of a few hundred KB becomes gigabytes; libxml2 (under lxml)
stops at its amplification limit and drops the rest of the document. Feeds have no use
for custom entities, so we cut the DOCTYPE and the references to what it declared.
"""

from __future__ import annotations

import codecs
import re

# "<!ENTITY" in any ASCII-compatible encoding and in UTF-16/32 (zero bytes between letters).
_ENTITY_BYTES = re.compile(
    rb"<\x00{0,3}!\x00{0,3}" + rb"\x00{0,3}".join(bytes([c]) for c in b"ENTITY"),
    re.IGNORECASE,
)
_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
_DECLARED = re.compile(r"<!ENTITY\s+(?:%\s+)?([^\s\"'>%]+)", re.IGNORECASE)
_REFERENCE = re.compile(r"&([^\s;&<]+);")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_WIDE = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)


def declares_entities(data: bytes) -> bool:
    return _ENTITY_BYTES.search(data) is not None


def without_entities(data: bytes) -> tuple[bytes, bool] | None:
    """The document without its DOCTYPE and without references to the entities it declared,
    and whether it was transcoded to UTF-8 (then the HTTP charset no longer applies);
    None when there is no DOCTYPE (a literal "<!ENTITY" in a CDATA section, say)."""
    wide = next((codec for bom, codec in _WIDE if data.startswith(bom)), None)
    # latin-1 maps bytes 1:1, so an ASCII-compatible document round-trips unchanged.
    text = data.decode(wide or "latin-1", "replace").lstrip("\ufeff")
    start = _DOCTYPE.search(text)
    if start is None:
        return None
    end = _doctype_end(text, start.end())
    names = set(_DECLARED.findall(text, start.end(), end))
    text = text[: start.start()] + text[end:]
    if names:
        text = _REFERENCE.sub(lambda m: "" if m.group(1) in names else m.group(0), text)
    if wide is None:
        return text.encode("latin-1"), False
    body = _XML_DECLARATION.sub("", text, count=1)
    return ('<?xml version="1.0" encoding="utf-8"?>' + body).encode("utf-8", "replace"), True


def _doctype_end(text: str, i: int) -> int:
    """Index just past the DOCTYPE's closing ``>``: skips quoted literals, comments and
    processing instructions, and everything inside the ``[...]`` internal subset."""
    depth = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            close = text.find(c, i + 1)
            i = n if close < 0 else close + 1
        elif text.startswith("<!--", i):
            close = text.find("-->", i + 4)
            i = n if close < 0 else close + 3
        elif text.startswith("<?", i):
            close = text.find("?>", i + 2)
            i = n if close < 0 else close + 2
        else:
            if c == "[":
                depth += 1
            elif c == "]":
                depth = max(depth - 1, 0)
            elif c == ">" and depth == 0:
                return i + 1
            i += 1
    return n
