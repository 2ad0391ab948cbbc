"""Small text tools shared by the extractors: sentences, words, names, domains, URLs.

Everything here is linear in the input: sentences are found with one bounded pattern and
names are read word by word in Python, so no pattern can backtrack over a whole
transcript.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList

_SENTENCE_END = re.compile(r"([.!?…][\"”’)\]]*)[ \t]+(?=[\"“‘(\[]?[A-Z0-9\u00c0-\u024f])|\n+")
_WORD = re.compile(r"[^\W_](?:[\w'’.&+-]*[^\W_])?|[^\W_]")
_NOT_KEY = bytes(sorted(set(range(128)) - set(b"0123456789abcdefghijklmnopqrstuvwxyz")))

TLDS = (
    "com|io|dev|ai|app|net|org|fm|co|us|uk|de|fr|nl|se|no|dk|fi|ie|es|it|ch|at|be|ca|au|nz"
    "|sh|so|tv|me|xyz|cloud|tech|gg|ly|to|info|biz|show|club|page|site|online|studio|"
    "health|store|shop|llc|inc|one|link|works|team|software|systems|run|in|eu|is|cc|"
    "jp|pt|pl|cz|hu|gr|ro|br|mx|ar|cl|za|sg|hk|tw|kr|vc|ws|email|news|blog|media|audio|"
    "fyi|pro|guide|academy|school|courses|events|chat|social|zone|space|host|build|ninja|"
    "wtf|lol|codes|dog|new|pet|fit|coffee|ink|design|art|digital|network|cool|rocks|example"
)
DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:https?://)?((?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{TLDS}))"
    rf"(?![\w-])(/[^\s<>\"'()]*[^\s<>\"'().,;:!?])?",
    re.I,
)
# the lookahead only spares trying every TLD after each full stop of prose
_TLD_DOT = re.compile(rf"\.(?=[a-z])(?:{TLDS})(?![\w-])", re.I)
_TRACKING = re.compile(
    r"^(?:utm_\w+|ref|ref_src|referrer|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|"
    r"mc_eid|igshid|_ga|_gl|via|src|source|campaign|affiliate|aff|trk|spm|si|s_cid)$",
    re.I,
)
# the host and port of a plain web URL, up to what ends them or what urlsplit would check
_WEB_NETLOC = re.compile(r"https?://([^/?#\[\]\t\r\n]*)")
# a web URL without query, fragment or anything urlsplit would drop or check
_PLAIN_URL = re.compile(r"(https?)://([^/?#\[\]\t\r\n]+)((?:/[^?#\t\r\n]*)?)", re.I)
_HOST_PREFIX = re.compile(r"^(?:www\d?|try|get|go|join|app|my|signup|start|m|l|links?|info)\.")


def word_set(text: str) -> frozenset[str]:
    """A set of words written as one block of text (keeps long word lists readable)."""
    return frozenset(text.split())


def phrase_set(text: str) -> frozenset[str]:
    """A set of comma-separated phrases written as one block of text."""
    return frozenset(p.strip() for p in text.split(",") if p.strip())


STOPWORDS = word_set(
    """a an the and or but so if then than that this these those there here it its it's is
    are was were be been being am do does did doing have has had having i i'm i've i'd me my
    we we're we've us our you you're your yours he she him her his they them their what
    which who whom whose when where why how all any both each few more most other some such
    no nor not only own same too very can will just don't should now to of in on at by for
    with about against between into through during before after above below from up down
    out off over under again further once also as well get go use visit check head try
    give sign start find learn see let let's make take hey hi hello welcome thanks thank
    today tonight okay ok yes yeah oh well one two three four five new free more quick
    still even because while until since via per plus like really actually first last next
    every everyone anyone someone people folks listeners friends everybody"""
)


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int

    def text(self, source: str) -> str:
        return source[self.start : self.end]


@lru_cache(maxsize=8192)
def key(text: str) -> str:
    """Casefolded letters and digits only: 'Quill Stream', 'quillstream' and 'QuillStream' agree.
    Remembered, as names and phrases recur; see :func:`long_key` for whole documents."""
    return long_key(text)


def long_key(text: str) -> str:
    """:func:`key` without the cache, which whole documents would only fill (with a few
    KB each). Accents come off in NFKD as combining marks, which go with every other
    character outside ``[0-9a-z]``; bytes.translate drops those ten times faster than a
    regular expression's substitution on notes-sized text."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
    return text.casefold().encode("ascii", "ignore").translate(None, _NOT_KEY).decode("ascii")


def find_all(text: str, needles: Sequence[str]) -> list[int]:
    """Sorted offsets of every needle in ``text`` (case-insensitive, plain substring search,
    which is far cheaper than a pattern over a long transcript)."""
    low = text.lower()
    found: list[int] = []
    for needle in needles:
        at = low.find(needle)
        while at >= 0:
            found.append(at)
            at = low.find(needle, at + 1)
    found.sort()
    return found


class Joined:
    """Texts searched as one string, joined by ``sep`` (which no needle or match holds):
    one scan of the join instead of one per text, as most needles are in none of them."""

    __slots__ = ("joined", "starts", "texts")

    def __init__(self, texts: Sequence[str], sep: str = "\0") -> None:
        self.texts = texts
        self.joined = sep.join(texts)
        self.starts: list[int] = []
        pos = 0
        for text in texts:
            self.starts.append(pos)
            pos += len(text) + len(sep)

    def at(self, pos: int) -> tuple[int, int]:
        """Which text a position of the join is in, and where in that text."""
        i = bisect_right(self.starts, pos) - 1
        return i, pos - self.starts[i]

    def holding(self, words: Iterable[str]) -> set[int]:
        """Indexes of the texts holding any of the words."""
        out: set[int] = set()
        for word in words:
            at = self.joined.find(word)
            while at >= 0:
                i = self.at(at)[0]
                out.add(i)
                if i + 1 == len(self.starts):
                    break
                at = self.joined.find(word, self.starts[i + 1])
        return out

    def matching(self, pattern: re.Pattern[str]) -> set[int]:
        """Indexes of the texts the pattern matches in (no match may cross ``sep``)."""
        out: set[int] = set()
        m = pattern.search(self.joined)
        while m:
            i = self.at(m.start())[0]
            out.add(i)
            if i + 1 == len(self.starts):
                break
            m = pattern.search(self.joined, self.starts[i + 1])
        return out


def _find_all_lowered(lows: Sequence[str], needles: Sequence[str]) -> list[list[int]]:
    """Every needle's offsets in each lowered text, one scan per needle over the join: the
    way for texts whose lowering changes their length, which the keyword pattern cannot read."""
    join = Joined(lows)
    out: list[list[int]] = [[] for _ in lows]
    for needle in needles:
        at = join.joined.find(needle)
        while at >= 0:
            i, offset = join.at(at)
            out[i].append(offset)
            at = join.joined.find(needle, at + 1)
    for found in out:
        found.sort()
    return out


# characters from most to least frequent in English prose; any other is rarer still
_COMMON_CHARS = " etaoinshrdlcumwfgypbvkjxqz"


def _rarity(ch: str) -> int:
    at = _COMMON_CHARS.find(ch)
    return len(_COMMON_CHARS) if at < 0 else at


def _anchor(needle: str) -> int:
    """Where the needle's rarest character stands (the first of equals)."""
    return max(range(len(needle)), key=lambda i: (_rarity(needle[i]), -i))


def _overlaps(found: str, hidden: str) -> Iterator[int]:
    """Where ``hidden`` may start (from the start of ``found``) with its rarest character
    inside an occurrence of ``found``: the places a scan that consumed ``found`` skips."""
    at = _anchor(hidden)
    for shift in range(-at, len(found) - at):
        lo, hi = max(0, shift), min(len(found), shift + len(hidden))
        if found[lo:hi] == hidden[lo - shift : hi - shift]:
            yield shift


class KeywordGroup:
    """Keywords found together: one pass over a document answers all of them.

    The pattern is tried only where some needle's rarest character stands, and each
    alternative there first checks the characters after it, so prose costs about one
    test per character instead of one scan per needle.
    """

    def __init__(self) -> None:
        self._sets: list[Keywords] = []
        self._scan: _Scan | None = None

    def add(self, keywords: Keywords) -> None:
        self._sets.append(keywords)
        self._scan = None

    def find_all(self, texts: Sequence[str]) -> dict[Keywords, list[list[int]]]:
        """For each member, the sorted offsets where its needles start in each lowered
        text. An occurrence that overlaps a found one may be left out: no needle holds a
        sentence break, so the sentences holding a needle are those holding an offset."""
        lows = [t.lower() for t in texts]
        if sum(map(len, lows)) != sum(map(len, texts)):  # 'İ' lowers to two characters
            return {kw: _find_all_lowered(lows, kw.needles) for kw in self._sets}
        if self._scan is None:
            self._scan = _Scan(self._sets)
        out = self._scan.run(lows)
        return {kw: out[i] for i, kw in enumerate(self._sets)}


class _Scan:
    """The one pattern of a group, and for each needle the others its match may hide."""

    def __init__(self, sets: Sequence[Keywords]) -> None:
        self.sets = len(sets)
        needles = list(dict.fromkeys(n for kw in sets for n in kw.needles))
        owners = {n: frozenset(i for i, kw in enumerate(sets) if n in kw.needles) for n in needles}
        by_anchor: dict[str, list[str]] = {}
        for needle in needles:
            by_anchor.setdefault(needle[_anchor(needle)], []).append(needle)
        branches: list[str] = []
        # by group: each alternative ends in an empty group of its own
        self.needles: list[tuple[int, frozenset[int], tuple[tuple[str, int, frozenset[int]], ...]]]
        self.needles = [(0, frozenset(), ())]
        for ch, group in by_anchor.items():
            alts = []
            for needle in group:
                at = _anchor(needle)
                behind = f"(?<={re.escape(needle)})" if at else ""
                alts.append(f"{re.escape(needle[at + 1 :])}{behind}()")
                hidden = tuple(
                    (other, shift, owners[other] - owners[needle])
                    for other in needles
                    if owners[other] - owners[needle]
                    for shift in _overlaps(needle, other)
                )
                self.needles.append((len(needle), owners[needle], hidden))
            branches.append(f"{re.escape(ch)}(?:{'|'.join(alts)})")
        self.pattern = re.compile("|".join(branches))

    def run(self, lows: Sequence[str]) -> list[list[list[int]]]:
        """Per member of the group, per text, the sorted offsets where its needles start.
        A needle of a member overlapping a found one of the same member may be left out:
        no needle holds a sentence break, so the sentences holding a needle are those
        holding an offset. Those of other members are looked for where the match was."""
        join = Joined(lows)
        out: list[list[list[int]]] = [[[] for _ in lows] for _ in range(self.sets)]
        for m in self.pattern.finditer(join.joined):
            length, owners, hidden = self.needles[m.lastindex or 0]
            at = m.end() - length
            i, offset = join.at(at)
            for owner in owners:
                out[owner][i].append(offset)
            for other, shift, others in hidden:
                if at + shift >= 0 and join.joined.startswith(other, at + shift):
                    j, offset = join.at(at + shift)
                    for owner in others:
                        out[owner][j].append(offset)
        for per_text in out:
            for found in per_text:
                found.sort()
        return out


# the sponsor, self-promotion and promo code stages read each document in turn
# (``view.DocView.hits``)
ONE_PASS = KeywordGroup()


class Keywords:
    """Needles looked for in every block of a document, most of which holds none; found
    in one pass with the other members of ``group`` (a group of its own by default)."""

    def __init__(self, needles: Sequence[str], group: KeywordGroup | None = None) -> None:
        self.needles = tuple(needles)
        self.group = group or KeywordGroup()
        self.group.add(self)


class Lowered:
    """A case-insensitive pattern that reads ASCII text lower-cased, without ``re.I``.

    Under ``re.I`` the engine enters every alternative at every position; on lower-cased
    text the same pattern rejects most positions on their first character, several times
    faster over a long alternation. For ASCII text both find the same spans.
    """

    def __init__(self, pattern: str) -> None:
        if re.search(r"[A-Z]|\(\?-i", re.sub(r"\\.", "", pattern)):
            raise ValueError("the pattern must be lower-case and case-insensitive throughout")
        self.pattern = re.compile(pattern, re.I)
        self._lower = re.compile(pattern)

    def search(self, text: str, low: str | None = None, pos: int = 0) -> re.Match[str] | None:
        """The first match from ``pos``; for ASCII text it is a match in ``low``
        (``text.lower()``, computed when not given), so read its span, not its groups."""
        if text.isascii():
            return self._lower.search(text.lower() if low is None else low, pos)
        return self.pattern.search(text, pos)


def fold(text: str) -> str:
    """Lowercased text for cheap substring pre-checks before case-insensitive patterns:
    also folds the few other letters ``re.I`` matches to ASCII ones (dotless i, long s,
    dotted capital I), so a missing ASCII word proves such a pattern cannot match."""
    low = text.lower()
    if low.isascii():
        return low
    return low.replace("ı", "i").replace("ſ", "s").replace("\u0307", "")


def plain(text: str) -> str:
    """``fold``ed text with each run of whitespace one space, and one at either end: where
    a pattern has ``\\s+`` its match has one space, so gates can ask for "we are "."""
    folded = fold(text)
    if folded.isprintable() and "  " not in folded:
        return f" {folded.strip(' ')} "  # its only whitespace is single spaces already
    return f" {' '.join(folded.split())} "


def may_match(folded: str, needs: Sequence[Sequence[str]]) -> bool:
    """Whether ``fold``ed text has, for each group of ``needs``, one of its words: the
    cheap necessary condition written beside a pattern, so most texts skip the pattern."""
    for group in needs:
        for word in group:
            if word in folded:
                break
        else:
            return False
    return True


def any_between(positions: list[int], start: int, end: int) -> bool:
    i = bisect_left(positions, start)
    return i < len(positions) and positions[i] < end


@lru_cache(maxsize=1024)
def sentences(text: str) -> tuple[Span, ...]:
    """Sentence spans; a line break (a cue boundary in transcripts) also ends a sentence."""
    out: list[Span] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end(1) if m.group(1) else m.start()
        if end > pos:
            out.append(Span(pos, end))
        pos = m.end()
    if pos < len(text):
        out.append(Span(pos, len(text)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: int
    end: int

    @property
    def capitalised(self) -> bool:
        first = self.text[0]
        return first.isupper() or (first.isdigit() and any(c.isalpha() for c in self.text))

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")


def words(text: str, start: int = 0, end: int | None = None) -> Iterator[Word]:
    for m in _WORD.finditer(text, start, len(text) if end is None else end):
        token = m.group(0).rstrip(".")
        if token:
            yield Word(token, m.start(), m.start() + len(token))


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def registrable(host: str) -> str:
    """'www.try.brand.co.uk' -> 'brand.co.uk' (public suffix list); '' when it has none."""
    host = host.lower().strip(".").split(":")[0]
    return _suffixes().privatesuffix(host) or host


@lru_cache(maxsize=4096)
def domain_label(host_or_url: str) -> str:
    """The brand-bearing label of a host: 'https://try.brand.app/x' -> 'brand'."""
    host = host_or_url
    web = _WEB_NETLOC.match(host) if host.isascii() else None
    if web and host[web.end() : web.end() + 1] in ("", "/", "?", "#"):
        host = web.group(1)  # what ``urlsplit`` reads, without its checks and copies
    elif "://" in host:
        host = urlsplit(host).netloc
    host = host.split("/")[0]
    reg = registrable(host)
    return reg.split(".")[0] if reg else ""


@lru_cache(maxsize=4096)
def host_of(url: str) -> str:
    try:
        return (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()
    except ValueError:
        return ""


def clean_url(url: str) -> str:
    """Absolute http(s) URL without tracking parameters (utm_*, ref, fbclid, ...)."""
    url = url.strip()
    plain_url = _PLAIN_URL.fullmatch(url) if url.isascii() else None
    if plain_url:  # no query to clean: what the round trip below gives, without it
        scheme, netloc, path = plain_url.groups()
        return f"{scheme.lower()}://{netloc.lower()}{path}"
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url.lstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, urlencode(query), "")
    )


_SPOKEN_DOMAIN = re.compile(
    r"\b([a-z0-9-]{2,40})(?:\s+([a-z0-9-]{2,40}))?\s+dot\s+(com|io|dev|ai|app|net|org|fm|co|tv|"
    r"sh|so|me|cloud|tech)\b(?:\s+slash\s+([a-z0-9-]{1,40}))?",
    re.I,
)


def text_domains(text: str) -> Iterator[tuple[int, int, str]]:
    """Domain-like mentions in running text ('brand.io/show', spoken 'brand dot io slash
    show'), as (start, end, url). A spoken two-word name also yields its joined form."""
    last_end = -1
    for dot in _TLD_DOT.finditer(text):
        start = dot.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in ".-/:"):
            start -= 1
        if start < last_end:
            continue
        m = DOMAIN.search(text, start, len(text))
        if not m or m.start() > dot.start():
            continue
        last_end = m.end()
        host = m.group(1).lower()
        if host.count(".") == 0 or host.split(".")[0] in ("e", "i"):
            continue
        yield m.start(), m.end(), f"{host}{m.group(2) or ''}"
    if " dot " not in text.lower():
        return
    for m in _SPOKEN_DOMAIN.finditer(text):
        tld = m.group(3).lower()
        path = f"/{m.group(4).lower()}" if m.group(4) else ""
        last = m.group(2) or m.group(1)
        yield m.start(), m.end(), f"{last.lower()}.{tld}{path}"
        if m.group(2) and m.group(1).lower() not in STOPWORDS:
            yield m.start(), m.end(), f"{m.group(1).lower()}{m.group(2).lower()}.{tld}{path}"


def texts_with_domains(texts: Sequence[str]) -> set[int]:
    """Indices of the texts ``text_domains`` may find something in (a written TLD or a
    spoken ' dot '), from one pass over them all instead of one per text: no match of
    either spans a line break."""
    join = Joined(texts, "\n")
    found = join.matching(_TLD_DOT)
    if " dot " in join.joined.lower():
        found.update(i for i, text in enumerate(texts) if " dot " in text.lower())
    return found


def brand_from_label(label: str) -> str:
    """A display name for a brand known only from its domain: 'brand' -> 'Brand'."""
    label = _HOST_PREFIX.sub("", label + ".").rstrip(".")
    return label[:1].upper() + label[1:] if label else label


def is_url_like(text: str) -> bool:
    return bool(re.fullmatch(r"(?:https?://)?[\w.-]+\.[a-z]{2,}(?:/\S*)?", text.strip(), re.I))
