"""Untrusted HTML in, safe HTML or plain text out.

Feeds carry show notes written by anyone; they end up in our merged feed and in mail
digests, so every fragment passes through nh3 (ammonia) with a small allow-list. We turn
feedparser's own sanitiser off (it is most of its parse time) and do it here instead.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import nh3
from selectolax.lexbor import LexborHTMLParser

ALLOWED_TAGS = frozenset(
    {
        *("a", "abbr", "b", "blockquote", "br", "code", "dd", "dl", "dt", "em"),
        *("figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img"),
        *("li", "ol", "p", "pre", "s", "small", "strong", "sub", "sup", "u", "ul"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    }
)
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"
# Tags whose content is never text a reader should see.
_DROP_CONTENT = frozenset({"script", "style", "iframe", "noscript", "template", "object"})
# A space before these tags keeps words of adjacent blocks apart in plain text.
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|br|div|li|ul|ol|dd|dt|h[1-6]|tr|td|th|table|blockquote|pre|hr|section"
    r"|article|header|footer|figure|figcaption)\b)",
    re.IGNORECASE,
)
_NESTED_AMP = re.compile(r"&(?:amp;?|AMP;?|#0*38;|#[xX]0*26;)+")
_TAG = re.compile(r"<[^>]*>")
# An <a> tag's href value: the attributes before it are skipped whole, so an href= inside
# another attribute's value (title="see href=") is never taken for one.
_HREF = re.compile(r'<a(?:\s+(?!href=)[\w:-]+="[^"]*")*\s+href="([^"]*)"')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_ASCII_CONTROLS = bytes(range(0x20)).translate(None, b"\t\n\r") + b"\x7f"  # _CONTROL in ASCII


@lru_cache(maxsize=64)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    """One cleaner per base: a feed's items share it, and building one is not free."""
    relative: object = "deny"
    base = http_url(base_url)
    if base:
        relative = ("rewrite_with_base", base)
    options: dict[str, object] = {
        "tags": set(ALLOWED_TAGS),
        "clean_content_tags": set(_DROP_CONTENT),
        "attributes": ALLOWED_ATTRIBUTES,
        "url_schemes": set(URL_SCHEMES),
        "link_rel": LINK_REL,
        "strip_comments": True,
    }
    try:
        return nh3.Cleaner(**options, url_relative=relative)
    except ValueError:
        # A base nh3 cannot parse: drop relative URLs rather than keep them unresolved.
        return nh3.Cleaner(**options, url_relative="deny")


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """Safe HTML: formatting tags only, absolute http(s)/mailto links with rel="noopener nofollow".

    Relative URLs are resolved against ``base_url``, or dropped when there is none.
    """
    return _cleaner(base_url).clean(_without_controls(fragment)).strip()


def html_to_text(fragment: str, limit: int | None = None) -> str:
    """The readable text of an HTML fragment, whitespace collapsed, entities decoded.

    With ``limit``, only enough of a long fragment is read to fill that many characters.
    """
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    if limit is not None and len(fragment) > 8 * limit:
        text = _text(fragment[: 8 * limit])
        if len(text) > limit:  # the first ``limit`` characters are those of the whole
            return text
    return _text(fragment)


def _text(fragment: str) -> str:
    tree = LexborHTMLParser(_BLOCK_TAG.sub(" <", fragment))
    tree.strip_tags(list(_DROP_CONTENT))
    root = tree.body or tree.root
    text = root.text(separator="") if root is not None else ""
    return " ".join(_without_controls(text).split())


def _without_controls(text: str) -> str:
    """``text`` without what :data:`_CONTROL` matches. Show notes hardly ever hold any, and
    for ASCII text a look at its bytes tells so at a fraction of the regular expression's
    cost."""
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROLS)) == len(raw):
            return text
    return _CONTROL.sub("", text)


def safe_html_words(safe_html: str) -> str:
    """The characters of a :func:`sanitize_html` fragment's text, tags dropped and entities
    decoded but spacing left as it falls: enough to ask whether some text is in it when
    spacing does not count, without the HTML parse of :func:`html_to_text`. nh3's
    serialisation escapes ``<`` and ``>`` everywhere but in tags and keeps no script or
    style content."""
    return html.unescape(_TAG.sub(" ", safe_html))


def links_in(safe_html: str) -> tuple[str, ...]:
    """The distinct absolute http(s) hrefs of a fragment from :func:`sanitize_html`, in order.

    Reads nh3's own serialisation (every value double-quoted, ``"`` ``<`` ``>`` escaped),
    which a regular expression describes exactly; an HTML parse here would cost as much as
    the sanitising itself. Show notes repeat their links (a sponsor's twice), so each
    distinct value is resolved once.
    """
    hrefs = (http_url(html.unescape(value)) for value in dict.fromkeys(_HREF.findall(safe_html)))
    return tuple(dict.fromkeys(href for href in hrefs if href))


def http_url(value: str | None, base_url: str | None = None) -> str | None:
    """``value`` as an absolute http(s) URL (resolved against ``base_url``), else None."""
    if not value:
        return None
    url = value.strip()
    head = url[:8].lower()
    if head.startswith(("http://", "https://")) and url.isascii() and "[" not in url:
        # The common case, without urljoin/urlsplit: most of a feed's URLs are absolute.
        rest = url[7:] if head.startswith("http://") else url[8:]
        return url if rest and rest[0] not in "/?#" else None
    if not url:
        return None
    try:
        if base_url:
            url = urljoin(base_url.strip(), url)
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def clean_text(value: str) -> str:
    """Plain text fit for a title or a name: entities decoded (also double-escaped ones,
    as in ``&amp;amp;``), control characters dropped, NFC, whitespace collapsed.

    Repeated to a fixed point, so normalising an episode twice changes nothing (NFC can
    turn a character into ``;`` and decoding can leave text that is not NFC).
    """
    if value.isascii() and "&" not in value:
        # Most titles and names: NFC changes no ASCII, so one round is the fixed point.
        return " ".join((value if value.isprintable() else _CONTROL.sub("", value)).split())
    text = value
    for _ in range(len(value) + 2):  # each changing round shortens the text
        cleaner = _clean_once(text)
        if cleaner == text:
            break
        text = cleaner
    return text


def _clean_once(text: str) -> str:
    text = _CONTROL.sub("", text)
    if "&" in text:
        # Any depth of escaped ampersands in one step, so hostile nesting stays linear.
        text = _CONTROL.sub("", html.unescape(_NESTED_AMP.sub("&", text)))
    return " ".join(unicodedata.normalize("NFC", text).split())


def shorten(text: str, limit: int = 300) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"
