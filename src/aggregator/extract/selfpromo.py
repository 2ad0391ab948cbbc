"""The show promoting itself: Patreon, Ko-fi, GitHub Sponsors for the show, its newsletter,
courses, merch, live-show tickets and membership.

Only calls to action count ("support us on Patreon", "my course ...", "join the crew"),
not talk about such things: a guest's newsletter or a conversation about crowdfunding is
not the show asking for support.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from aggregator.extract.chapters import chapters_of
from aggregator.extract.promo import find_codes
from aggregator.extract.text import (
    ONE_PASS,
    Joined,
    Keywords,
    any_between,
    clean_url,
    fold,
    host_of,
    key,
    may_match,
)
from aggregator.extract.view import DocView
from aggregator.model import Sponsor
from aggregator.parse.document import Document

_I = re.I
_PLATFORM_NAMES = {
    "patreon": "Patreon",
    "kofi": "Ko-fi",
    "githubsponsors": "GitHub Sponsors",
    "buymeacoffee": "Buy Me a Coffee",
    "liberapay": "Liberapay",
    "opencollective": "Open Collective",
    "supercast": "Supercast",
    "memberful": "Memberful",
    "steady": "Steady",
}
SELF_PLATFORMS = frozenset(_PLATFORM_NAMES)
_PLATFORM_HOSTS = (
    ("patreon.com", "patreon"),
    ("ko-fi.com", "kofi"),
    ("buymeacoffee.com", "buymeacoffee"),
    ("liberapay.com", "liberapay"),
    ("opencollective.com", "opencollective"),
    ("supercast.com", "supercast"),
    ("memberful.com", "memberful"),
    ("steadyhq.com", "steady"),
)
_HOST_HINTS = (*(domain for domain, _name in _PLATFORM_HOSTS), "github.com")
_PLATFORM = (
    r"(patreon|ko-?fi|buy\s*me\s*a\s*coffee|liberapay|open\s*collective|github\s+sponsors|"
    r"supercast|memberful)\b"
)
_OWN = (
    r"(?:us|the\s+show|the\s+podcast|this\s+show|this\s+podcast|our\s+\w+|a\s+(?:patron|member|"
    r"supporter|backer)|(?-i:[A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,3}))"
)
_PLATFORM_TEXT = re.compile(
    rf"\b(?:support|back|join|becom|pledg|tip|fund|chip\s+in\s+for)\w*\s+{_OWN}[^.!?]{{0,40}}?"
    rf"\b(?:on|via|through|at|with)\s+{_PLATFORM}|\b(?:we['’]re|we\s+are|find\s+us)\s+on\s+"
    rf"{_PLATFORM}",
    _I,
)
_PRODUCT = re.compile(
    r"\b(?:newsletter|mailing\s+list|course|workshop|cohort|bootcamp|masterclass|coaching|"
    r"merch|shop|store|tickets?|membership|crew)\b",
    _I,
)
_TYPES = (
    ("newsletter", "Newsletter"),
    ("mailing list", "Newsletter"),
    ("mails", "Newsletter"),
    ("course", "Course"),
    ("workshop", "Course"),
    ("cohort", "Course"),
    ("bootcamp", "Course"),
    ("masterclass", "Course"),
    ("coaching", "Coaching"),
    ("ticket", "Live show"),
    ("live", "Live show"),
    ("merch", "Merch"),
    ("shop", "Merch"),
    ("store", "Merch"),
    ("sticker", "Merch"),
    ("mug", "Merch"),
    ("shirt", "Merch"),
    ("hoodie", "Merch"),
    ("member", "Membership"),
    ("crew", "Membership"),
    ("club", "Membership"),
    ("ad-free", "Membership"),
)
_RULES = tuple(
    re.compile(p, _I)
    for p in (
        r"\blistener[-\s](?:supported|funded|powered)\b|\b(?:supported|funded)\s+(?:entirely\s+|"
        r"solely\s+|only\s+)?by\s+(?:our\s+)?listeners\b",
        r"\b(?:support|back|fund)\s+(?:us|the\s+show|the\s+podcast|this\s+show|this\s+podcast|"
        r"our\s+work)\b",
        r"\bbuy\s+us\s+a\s+(?:coffee|beer|pizza)\b",
        r"\b(?:my|our)\s+(?:new\s+|free\s+|online\s+|video\s+|weekly\s+|monthly\s+)?(?:course|"
        r"courses|workshop|workshops|cohort|bootcamp|coaching|membership|shop|store|merch|"
        r"newsletter|mailing\s+list|live\s+show|masterclass|patreon|supporters?\s+club)\b",
        r"\b(?:our|my)\s+(?:weekly|monthly|free)\s+e-?mails\b",
        r"\b(?:subscribe|sign\s+up|signup|join)\s+(?:to|for)?\s*(?:the\s+|our\s+|my\s+)?"
        r"[\w&.'’ -]{0,40}?\bnewsletter\b",
        r"\b(?:i|we)\s+(?:write|run|send|publish|put\s+out|host|have|offer|teach|sell|made|built|"
        r"launched|created)\b[^.!?]{0,60}?\b(?:newsletter|courses?|workshops?|coaching|cohort|"
        r"merch|shop)\b",
        r"\btickets?\b[^.!?]{0,40}\b(?:live\s+show|live\s+recording|live\s+episode|tour)\b|"
        r"\blive\s+show\s+tickets?\b",
        r"\b(?:stickers|mugs|t-?shirts|hoodies|merch(?:andise)?)\b[^.!?]{0,60}\b(?:available|"
        r"shop|store|buy|order|get\s+yours)\b",
        r"\b(?:join|become)\s+(?:the\s+crew|a\s+(?:member|patron|supporter|backer)|our\s+"
        r"(?:membership|patreon|crew|club|supporters?))\b|\bad-free\s+(?:episodes|feed|version)\b",
        r"\bdonat(?:e|ed|ing|ions?)\s+to\s+(?:the\s+show|us|the\s+podcast|this\s+show)\b",
        r"\bnew\s+course\b[^.!?]{0,80}\b(?:is\s+live|now\s+available|launch(?:ed|es)|enrol+|"
        r"early\s+access|listeners)\b",
        r"\bweekly\s+e-?mails\b",
    )
)
# Per rule, groups of words: a match holds one word of every group (see ``may_match``).
_RULE_NEEDS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("listener",),),
    (("support", "back", "fund"),),
    (("buy",),),
    (
        ("my", "our"),
        (
            "course",
            "workshop",
            "cohort",
            "bootcamp",
            "coaching",
            "membership",
            "shop",
            "store",
            "merch",
            "newsletter",
            "mailing",
            "live",
            "masterclass",
            "patreon",
            "supporter",
        ),
    ),
    (("our", "my"), ("mails",)),
    (("newsletter",), ("subscribe", "sign", "join")),
    (("newsletter", "course", "workshop", "coaching", "cohort", "merch", "shop"),),
    (("ticket",),),
    (("sticker", "mugs", "shirt", "hoodie", "merch"),),
    (("join", "become", "ad-free"),),
    (("donat",),),
    (("course",),),
    (("mails",),),
)
_PLATFORM_NEEDS = (
    (
        "patreon",
        "kofi",
        "ko-fi",
        "buy",
        "liberapay",
        "collective",
        "sponsors",
        "supercast",
        "memberful",
    ),
)
# of every rule, its group of longest words: a text holding none of them matches no rule
_ANY_RULE = frozenset(
    word
    for needs in (*_RULE_NEEDS, _PLATFORM_NEEDS)
    for word in max(needs, key=lambda group: min(map(len, group)))
)
_SELF_PATH = re.compile(
    r"/(?:course|courses|newsletter|subscribe|shop|store|merch|crew|members?|membership|"
    r"support|donate|live|tickets|patreon|join|coaching)\b",
    _I,
)
_KEYWORDS = Keywords(
    (
        "patreon",
        "ko-fi",
        "kofi",
        "coffee",
        "liberapay",
        "collective",
        "github sponsors",
        "supercast",
        "memberful",
        "support us",
        "support the",
        "support this",
        "support our",
        "back us",
        "backs us",
        "backing us",
        "back the show",
        "fund us",
        "newsletter",
        "course",
        "workshop",
        "cohort",
        "bootcamp",
        "coaching",
        "membership",
        "shop",
        "store",
        "merch",
        "mailing list",
        "mails",
        "live show",
        "live recording",
        "live episode",
        "masterclass",
        "supporter",
        "ticket",
        "sticker",
        "mugs",
        "shirt",
        "hoodie",
        "crew",
        "member",
        "patron",
        "ad-free",
        "donat",
        "listener-",
        "listener supported",
        "listener funded",
        "by listeners",
        "by our listeners",
        "on patreon",
        "buy us",
    ),
    ONE_PASS,
)
_HOST_LABELS = frozenset({"host", "cohost", "presenter", "interviewer", "moderator", "narrator"})
_AD_CHAPTER = re.compile(r"\b(?:ad|advert|sponsor)\b", _I)


@lru_cache(maxsize=4096)
def is_self_promo_text(text: str) -> bool:
    """Whether a sentence is the show asking for support or selling its own things."""
    folded = fold(text)
    if not any(word in folded for word in _ANY_RULE):
        return False
    if may_match(folded, _PLATFORM_NEEDS) and _PLATFORM_TEXT.search(text):
        return True
    return any(
        may_match(folded, needs) and rule.search(text)
        for rule, needs in zip(_RULES, _RULE_NEEDS, strict=True)
    )


@dataclass(frozen=True, slots=True)
class _Hit:
    name: str
    url: str | None
    evidence: str
    code: str | None


def find_self_promo(
    doc: Document,
    *,
    show: str | None,
    guests: Sequence[str] = (),
    hosts: Sequence[str] = (),
    site: str | None = None,
    view: DocView | None = None,
) -> list[Sponsor]:
    """The show's own promotions, one entry per platform and one for its own products
    (``view``: the document's, when another stage reads it too)."""
    d = view or DocView(doc)
    guest_words = {key(w) for g in guests for w in g.split() if len(w) > 2}
    host_words = {key(w) for h in hosts for w in h.split() if len(w) > 2}
    hrefs = [link.href for block in d.blocks for link in block.links]
    linked = _names_platform_host(" ".join(hrefs))  # most documents link to no platform
    own_hrefs = {h for h in hrefs if site and _SELF_PATH.search(h) and host_of(h).endswith(site)}
    all_marks = d.hits(_KEYWORDS)
    # blocks read for their links alone, and of those the ones that may name a platform or
    # sell something (all at once: most hold no such word)
    unmarked = [bi for bi, block in enumerate(d.blocks) if block.links and not all_marks[bi]]
    may_sell = {
        unmarked[i] for i in Joined([fold(d.texts[bi]) for bi in unmarked]).holding(_ANY_RULE)
    }
    hits: list[_Hit] = []
    for bi, (block, marks) in enumerate(zip(d.blocks, all_marks, strict=True)):
        if not marks and not (
            block.links
            and (linked or bi in may_sell or any(link.href in own_hrefs for link in block.links))
        ):
            continue  # no sentence of it can promote anything
        if (
            block.kind == "cue"
            and block.speaker
            and host_words
            and key(block.speaker) not in _HOST_LABELS
            and not ({key(w) for w in block.speaker.split()} & host_words)
        ):
            continue  # a guest talking about their own things
        spans = d.sents(bi)
        for i, span in enumerate(spans):
            links = [lk for lk in block.links if span.start <= max(lk.start, 0) <= span.end]
            if not links and not any_between(marks, span.start, span.end):
                continue
            text = block.text[span.start : span.end]
            platform = _platform(text, [lk.href for lk in links] if linked else [])
            own_link = next((lk for lk in links if lk.href in own_hrefs), None)
            selling = own_link is not None or is_self_promo_text(text)
            if not (platform or selling):
                continue
            if guest_words and any(key(w) in guest_words for w in text.split()):
                continue
            if platform:
                hits.append(_Hit(platform, _first_url(links), text, None))
                if not _PRODUCT.search(_PLATFORM_TEXT.sub("", text)):
                    continue  # else the rest promotes something of the show's own too
            if selling:
                after = spans[i + 1] if i + 1 < len(spans) else span
                codes = find_codes(text) or find_codes(block.text[after.start : after.end])
                own = [lk for lk in links if not _platform("", [lk.href])]
                hits.append(
                    _Hit(
                        show or _kind_of(text),
                        _first_url(own),
                        text,
                        codes[0].code if codes else None,
                    )
                )
    for chapter in chapters_of(doc) if show else ():
        if _AD_CHAPTER.search(chapter.title) and _names_show(chapter.title, show):
            hits.append(_Hit(show, None, chapter.title, None))
    return _merge(hits)


def _names_show(title: str, show: str) -> bool:
    bare = re.sub(r"(?i)^the\s+|\s+(?:podcast|show|fm|radio)$", "", show)
    k = key(title)
    return bool(key(bare)) and key(bare) in k


def _platform(text: str, hrefs: list[str]) -> str | None:
    for href in hrefs:
        if not _names_platform_host(href):
            continue
        host = host_of(href)
        for domain, name in _PLATFORM_HOSTS:
            if host == domain or host.endswith("." + domain):
                return _PLATFORM_NAMES[name]
        if (
            host.endswith("github.com")
            and "/sponsors/" in href
            and re.search(
                r"\b(?:support|back|sponsor)\b[^.!?]{0,30}\b(?:us|the\s+show|the\s+podcast|our)\b",
                text,
                _I,
            )
        ):
            return _PLATFORM_NAMES["githubsponsors"]
    m = _PLATFORM_TEXT.search(text) if may_match(fold(text), _PLATFORM_NEEDS) else None
    if m:
        return _PLATFORM_NAMES.get(key(m.group(1) or m.group(2)))
    return None


def _names_platform_host(href: str) -> bool:
    """Whether a link may be to a platform, before parsing it: its host, and so the link
    itself, holds a platform's domain (``urlsplit`` drops tabs and line breaks first)."""
    low = href.lower()
    if "\t" in low or "\r" in low or "\n" in low:
        low = low.replace("\t", "").replace("\r", "").replace("\n", "")
    return any(domain in low for domain in _HOST_HINTS)


def _kind_of(text: str) -> str:
    """What the show is promoting, to name the entry when the show's name is unknown."""
    low = text.lower()
    return next((name for word, name in _TYPES if word in low), "Donations")


def _first_url(links: list) -> str | None:
    for link in links:
        if link.href.startswith(("http://", "https://")):
            return clean_url(link.href)
    return None


def _merge(hits: list[_Hit]) -> list[Sponsor]:
    out: dict[str, Sponsor] = {}
    for hit in hits:
        k = key(hit.name)
        if k in out:
            prev = out[k]
            if (prev.url is None and hit.url) or (prev.promo_code is None and hit.code):
                out[k] = Sponsor(
                    prev.name,
                    prev.url or hit.url,
                    prev.promo_code or hit.code,
                    kind="self_promo",
                    evidence=prev.evidence,
                    confidence=prev.confidence,
                )
            continue
        evidence = hit.evidence if len(hit.evidence) <= 280 else hit.evidence[:277] + "…"
        out[k] = Sponsor(
            hit.name, hit.url, hit.code, kind="self_promo", evidence=evidence, confidence=0.7
        )
    return list(out.values())
