"""Promo codes and offers as hosts say and write them.

"Use code DUNDER24", "promo code YIELD205 at checkout", "enter coupon GENERATE",
"use code maple, that's M A P L E", "the promo code tally ho, all one word",
and ``?code=...`` on a sponsor's link. A lower-case word only counts as a code when the
phrase around it says so ("use the code", "promo code"), so "code review" stays prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from aggregator.extract.text import ONE_PASS, Keywords, Lowered, find_all, fold, word_set

_LEAD = re.compile(
    r"\b(?:(?P<typed>promo(?:tional)?|offer|coupon|discount|voucher|referral|partner)\s+code"
    r"|(?P<coupon>coupon)|(?P<bare>code))\b\s*(?:is\s+|of\s+)?[:=]?\s*[\"“'‘`«]?",
    re.I,
)
_VERB_BEFORE = re.compile(
    r"\b(?:use|using|enter|with|apply|redeem|mention|type|input)\W{1,3}"
    r"(?:(?:the|my|our|this|that|promo|discount|offer|coupon|special)\W{1,3}){0,2}$",
    re.I,
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
_SPELLED = re.compile(
    r"^[\s,.;:—–-]*(?:that['’]?s|that\s+is|spelled|spelt|as\s+in)?[\s,:]*"
    r"((?:[A-Za-z0-9][\s.-]{1,2}){2,24}[A-Za-z0-9])\b"
)
_ONE_WORD = re.compile(r"^((?:\s+[A-Za-z0-9]+){0,3}?)[\s,]*(?:all\s+)?one\s+word\b", re.I)
# never a code, however it is introduced
_FUNCTION_WORDS = word_set(
    """at for to and the a an in on of is it that this when during your you we our with from
    by or as be here there below above again too also now today only first will can should
    would could may might must all every one two three four five which what who whatever"""
)
# prose after a bare "code" ("code review", "code samples"), fine after "promo code"
_PROSE_WORDS = word_set(
    """review reviews reviewer base bases quality formatter formatting editor editors snippet
    snippets sample samples completion completions generation generator generators search
    smell smells golf block blocks change changes path paths name word words new old example
    examples style conduct"""
)
_URL_KEYS = frozenset(
    {
        "code",
        "promo",
        "promocode",
        "promo_code",
        "coupon",
        "couponcode",
        "coupon_code",
        "discount",
        "discount_code",
        "voucher",
        "offer_code",
    }
)
_OFFER = Lowered(
    r"(?:\b\d{1,3}\s?%|\b\d{1,3}\s+percent|\b(?:ten|fifteen|twenty|twenty-five|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety)\s+percent)\s+off\b[^.;:!?,]{0,40}"
    r"|[$€£]\s?\d[\d,]*(?:\.\d\d)?\s+(?:in\s+)?(?:free\s+)?(?:credits?|off)\b[^.;:!?,]{0,30}"
    r"|\b(?:a\s+|an\s+)?(?:free|extended)\s+(?:\d+-day\s+)?(?:trial|month|months|year|plan|"
    r"team\s+plan|tier)\b[^.;:!?,]{0,30}"
    r"|\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|sixty|ninety)"
    r"[\s-]+(?:days?|weeks?|months?|years?)\s+(?:free|off)\b[^.;:!?,]{0,30}"
    r"|\b(?:\d[\d,]*|[a-z]+)\s+free\s+(?:sends|credits|seats|emails|minutes|hours)\b"
    r"|\b(?:\d[\d,]*|[a-z]+(?:[\s-][a-z]+)?)\s+(?:dollars|euros|pounds|bucks)\s+(?:in\s+|of\s+)?"
    r"(?:free\s+)?(?:credits?|off)\b"
    r"|\bfree\s+for\s+(?:\d+|[a-z]+)\s+(?:days|weeks|months)\b"
)


_OFFER_WORDS = ("off", "free", "extended", "credit")  # every offer holds one
# An offer has at most four runs of spaces or hyphens before the first of those words it
# holds ("twenty five dollars in free credits"): it cannot start further back than that.
_BEFORE_OFFER_WORD = re.compile(r"[^\s-]*(?:[\s-]+[^\s-]*){0,4}")
CODE_WORDS = Keywords(("code", "coupon"), ONE_PASS)  # a text without them states no code
_OFFER_TAIL = re.compile(r"\s+(?:with|using|when|if|at|by|use|via|to|—|–)\s", re.I)


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    start: int
    end: int
    explicit: bool  # said as a code ("use code X"), not taken from a link


def find_codes(text: str) -> list[Code]:
    """Every promo code stated in ``text``, with its place."""
    return list(_codes(text))


@lru_cache(maxsize=4096)
def _codes(text: str) -> tuple[Code, ...]:
    """``find_codes``, remembered: the same sentences are read by several stages."""
    out: list[Code] = []
    seen: set[int] = set()
    for at in find_all(text, ("code", "coupon")):
        window = _LEAD.finditer(text, max(0, at - 30), min(len(text), at + 12))
        m = next((m for m in window if m.start() <= at < m.end()), None)
        if not m or m.start() in seen:
            continue
        seen.add(m.start())
        tok = _TOKEN.match(text, m.end())
        if not tok:
            continue
        word = tok.group(0).rstrip("-_")
        typed = bool(m.group("typed") or m.group("coupon"))
        before = text[max(0, m.start() - 40) : m.start()]
        said_as_code = typed or bool(_VERB_BEFORE.search(before))
        after = text[tok.end() : tok.end() + 60]
        joined = _ONE_WORD.match(after)
        if joined and said_as_code:
            word = word + "".join(joined.group(1).split())
        spelled = _SPELLED.match(after)
        if spelled and said_as_code:
            letters = re.sub(r"[\s.-]", "", spelled.group(1))
            if letters.lower() == word.lower() or (len(letters) >= 3 and not word.isupper()):
                word = letters.upper()
        if not _plausible(word, said_as_code):
            continue
        out.append(Code(word, tok.start(), tok.end(), explicit=True))
    return tuple(out)


def _plausible(word: str, said_as_code: bool) -> bool:
    low = word.lower()
    if len(word) < 2 or low in _FUNCTION_WORDS or (not said_as_code and low in _PROSE_WORDS):
        return False
    if word.isdigit() and len(word) < 3:
        return False
    shouty = any(c.isupper() for c in word) and not any(c.islower() for c in word)
    mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    if said_as_code:
        return len(word) >= 2 and (shouty or mixed or word.isalpha() or word.isalnum())
    return (shouty and len(word) >= 3) or (mixed and len(word) >= 4)


def code_in_url(url: str) -> str | None:
    """A promo code carried in a link's query (``?code=SHOW``), if any."""
    if "?" not in url:
        return None
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    for k, v in parse_qsl(query):
        if k.lower() in _URL_KEYS and re.fullmatch(r"[A-Za-z0-9_-]{2,30}", v):
            return v
    return None


@lru_cache(maxsize=1024)
def find_offer(text: str) -> str | None:
    """The first offer phrase ('20% off the first year', '$200 in credit'), if any.
    Remembered: a feed's items repeat their sponsors' reads."""
    folded = fold(text)
    first = min((at for at in map(folded.find, _OFFER_WORDS) if at >= 0), default=-1)
    if first < 0:
        return None
    start = 0
    if len(folded) == len(text):  # the same places in both
        start = first - _BEFORE_OFFER_WORD.match(folded[:first][::-1]).end()
    m = _OFFER.search(text, folded, start)
    if not m:
        return None
    offer = _OFFER_TAIL.split(text[m.start() : m.end()], maxsplit=1)[0]
    return offer.strip(" ,;:—–-") or None
