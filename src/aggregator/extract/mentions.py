"""Where an episode names a sponsor: the raw mentions, before brands are merged.

A mention is a brand read from one place: a sponsorship phrase ("sponsored by X",
"support for this show comes from X", "thanks to X for supporting the show", "X is
sponsoring us", "a quick word from our sponsor X"), an entry under a "Sponsors" heading or
after a "Sponsor:" label, a chapter titled "Sponsor: X", or a phrase whose only clue is a
link (the brand then comes from the link's domain). Talk *about* sponsorship (GitHub
Sponsors, fiscal sponsors, an employer paying for a trip, "interested in sponsoring?"),
related-post excerpts, past-sponsor lists and site chrome give no mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from aggregator.extract.chapters import chapters_of
from aggregator.extract.names import brand_at, brand_before
from aggregator.extract.selfpromo import is_self_promo_text
from aggregator.extract.text import (
    ONE_PASS,
    STOPWORDS,
    Keywords,
    Lowered,
    Span,
    any_between,
    brand_from_label,
    domain_label,
    fold,
    is_url_like,
    key,
    may_match,
    plain,
    words,
)
from aggregator.extract.view import DocView
from aggregator.parse.document import Block, Link

_I = re.I
_END = r"(?:\s+|\s*$)"
_THIS = r"(?:our|this\s+week['’]s|today['’]s|this\s+episode['’]s|tonight['’]s)"
_SPONSOR = ("sponsor",)
_SPONSOR_OR_PARTNER = ("sponsor", "partner")
# _THIS as ``plain`` text writes it
_THIS_WORDS = (
    "our ",
    "week's ",
    "week’s ",
    "today's ",
    "today’s ",
    "episode's ",
    "episode’s ",
    "tonight's ",
    "tonight’s ",
)
# Per phrase: the pattern, its strength, whether it needs the show or episode named before
# it, and groups of words a match holds one of each in ``plain`` text (see ``may_match``),
# where a pattern's ``\s+`` is one space: most sentences holding "sponsor" skip most rules.
_FORWARD: tuple[tuple[re.Pattern[str], float, bool, tuple[tuple[str, ...], ...]], ...] = tuple(
    (re.compile(p, _I), strength, needs_context, needs)
    for p, strength, needs_context, needs in (
        (
            rf"\b(?:sponsored|underwritten)\s+(?:in\s+part\s+)?by{_END}",
            0.95,
            False,
            (
                (
                    "sponsored by",
                    "sponsored in part by",
                    "underwritten by",
                    "underwritten in part by",
                ),
            ),
        ),
        (
            rf"\bbrought\s+(?:to\s+)?you\s+(?:in\s+part\s+)?by{_END}",
            0.95,
            False,
            (("brought to you ", "brought you "),),
        ),
        (
            r"\bsupport\s+for\s+(?:this|the|today['’]s|our)\s+(?:show|episode|podcast|program|"
            rf"programme)\s+(?:\w+\s+){{0,3}}?comes?\s+from{_END}",
            0.95,
            False,
            (("support for ",), ("come",), (" from",)),
        ),
        (
            r"\b(?:supported|made\s+possible|powered|presented|funded)\s+(?:in\s+part\s+)?"
            rf"by{_END}",
            0.85,
            True,
            (("supported ", "possible ", "powered ", "presented ", "funded "), (" by",)),
        ),
        (rf"\bin\s+partnership\s+with{_END}", 0.8, True, (("in partnership with",),)),
        (
            r"\b(?:sponsored|supported|brought\s+to\s+you)\b[^.!?]{0,60}?\band\s+by\s+",
            0.85,
            True,
            (("sponsored", "supported", "brought to you"), ("and by ",)),
        ),
        (
            r"\bthanks?\s+(?:also\s+|again\s+|once\s+(?:more|again)\s+)?to\s+our\s+"
            r"(?:sponsors?|partners?)(?:\s+(?:this\s+week|today))?(?:\s+at)?[\s,:.—–-]*",
            0.9,
            False,
            (("thank",), ("to our sponsor", "to our partner")),
        ),
        (
            rf"\b(?:word|message|break)s?\s+from\s+{_THIS}\s+(?:sponsors?|partners?)[\s,:.—–-]*",
            0.9,
            False,
            (
                ("from our ", "from this week", "from today", "from this episode", "from tonight"),
                _SPONSOR_OR_PARTNER,
            ),
        ),
        (
            rf"\b{_THIS}\s+(?:(?:other|second|final|last|first|main|presenting)\s+)?"
            r"(?:sponsors?|partners?)"
            rf"\s+(?:today\s+|this\s+week\s+|for\s+(?:this|today['’]s)\s+(?:episode|show)\s+)?"
            rf"(?:is|are|:){_END}",
            0.9,
            False,
            (_THIS_WORDS, _SPONSOR_OR_PARTNER, (" is", " are", " :")),
        ),
        (r"\bwith\s+our\s+sponsors?[\s,:.—–-]*", 0.85, False, (("with our sponsor",),)),
        (
            rf"\b{_THIS}\s+sponsors?(?:\s+(?:today|this\s+week))?[,:]?\s+",
            0.85,
            False,
            (tuple(f"{this}sponsor" for this in _THIS_WORDS),),
        ),
        (
            r"\b(?:a\s+|our\s+)?new\s+sponsors?(?:\s+this\s+week)?(?:[.:!]\s*$|[,:—–-]\s*)",
            0.85,
            False,
            (("new sponsor",),),
        ),
    )
)
_THANKS_FOR = re.compile(
    r"\bthank(?:s|\s+you)?(?:\s+(?:also|again|once\s+more|once\s+again|so\s+much))?\s+"
    r"(?:to\s+)?(.{2,80}?),?\s+for\s+(?:(?P<sponsoring>sponsoring|sponsorship|underwriting)|"
    r"supporting|their\s+support|making\s+(?:this|today['’]s))",
    _I,
)
_PASSIVE = re.compile(
    r"(?:sponsored|underwritten|brought|supported|made\s+possible|powered|presented|funded)\b", _I
)
_AUX_TAIL = re.compile(
    r"(?:\s+(?:is|was|are|were|has\s+been|have\s+been|will\s+be|being|also|proudly|once\s+"
    r"again|again|kindly|generously|in\s+part)|['’]s)*\s*$",
    _I,
)
_CLAUSE = re.compile(r"\s*[,;:—–(]\s*|\s+-\s+")
_OUR_SUBJECT = re.compile(
    r"\b(?:episode|show|podcast|week|today|tonight|we|us|it|program|programme|broadcast|edition|"
    r"series|season|bonus|portion|segment|part|hour|half|following|everything|feed)\b",
    _I,
)
_OUR_OBJECT = re.compile(
    r"\s*(?:us\b|the\s+(?:show|podcast|program|programme|channel|episode)|this\s+(?:show|podcast|"
    r"episode|week|program)|today['’]s|tonight['’]s|our\s+(?:show|podcast|program|work)|[.!,;]|$)",
    _I,
)
_SHOW = r"(?:episode|show|podcast|week)"
_SHOWS = ("episode", "show", "podcast", "week")
_BACKS = ("sponsors", "supports", "sponsored", "supported", "underwrote", "underwrites")
_BACKWARD: tuple[tuple[re.Pattern[str], tuple[tuple[str, ...], ...]], ...] = tuple(
    (re.compile(p, _I), needs)
    for p, needs in (
        (
            r"\s+(?:is|are)\s+(?:proudly\s+)?(?:sponsoring|supporting|underwriting)\s+(?:us|this|"
            r"today['’]s|the\s+(?:show|podcast|episode))\b",
            ((" is ", " are "), ("sponsoring ", "supporting ", "underwriting ")),
        ),
        (
            r"\s+(?:is|are)\s+(?:the|our|this\s+episode['’]s|today['’]s|this\s+week['’]s)\s+"
            r"(?:(?:presenting|main|title|exclusive)\s+)?sponsors?\b(?!\s+(?:of|for|at)\s+(?!this\b|"
            r"today['’]s|the\s+(?:show|podcast|episode)|our\s+(?:show|podcast)))",
            ((" is ", " are "), ("the ", "our ", *_THIS_WORDS[1:]), _SPONSOR),
        ),
        (
            rf"\s+(?:sponsors|supports|sponsored|supported|underwrote|underwrites)\s+(?:this|"
            rf"today['’]s)\s+{_SHOW}\b",
            (
                tuple(
                    f" {verb} {this}"
                    for verb in _BACKS
                    for this in ("this ", "today's ", "today’s ")
                ),
                _SHOWS,
            ),
        ),
        (
            rf",?\s+(?:who|which|that)\s+(?:sponsored|sponsors?|is\s+sponsoring|are\s+sponsoring|"
            rf"supported|supports?|made|makes?)\s+(?:this|today['’]s|the|our)\s+{_SHOW}\b",
            ((" who ", " which ", " that "), ("sponsor", "support", "made ", "make"), _SHOWS),
        ),
        (
            rf"\s+(?:makes?|made|keeps?)\s+(?:this|today['’]s|the|our)\s+{_SHOW}\s+(?:possible|free)",
            ((" possible", " free"), (" make", " made ", " keep"), _SHOWS),
        ),
        (
            rf",\s+{_THIS}\s+(?:(?:main|presenting|first|second|other)\s+)?sponsor\b",
            ((", our ", ", this week", ", today", ", this episode", ", tonight"), _SPONSOR),
        ),
    )
)
_LABEL = re.compile(
    r"^(?:(?:this|today['’]s|this\s+week['’]s|this\s+episode['’]s|episode|our)\s+)?"
    r"(?:sponsors?(?:ed\s+by)?|sponsor\s+message|advertisement|advert|ad|partners?"
    r"(?:\s+of\s+the\s+week)?|presented\s+by|brought\s+to\s+you\s+by)"
    r"(?:\s+(?:of|for)\s+(?:this|the)\s+(?:episode|show|week))?\s*[:–—-]\s*",
    _I,
)
_SPONSOR_HEADING = re.compile(
    r"^(?:(?:our|this\s+(?:episode|week)['’]?s?|today['’]s|episode)\s+)?(?:sponsors?|"
    r"sponsored\s+by|brought\s+to\s+you\s+by|partners|supported\s+by|thanks\s+to\s+our\s+"
    r"sponsors?)\s*:?$",
    _I,
)
_LABEL_NEEDS = (("sponsor", "ad", "partner", "presented", "brought"), (":", "–", "—", "-"))
_CONTEXT = re.compile(r"\b(?:episode|show|podcast|program|programme|week|today)\b", _I)
_NEGATIVE = Lowered(
    r"github\s+sponsors?|fiscal(?:ly)?\s+sponsor|sponsor(?:ed|s|ing)?\s+(?:my|his|her|their|"
    r"our|the)\s+(?:trip|travel|visa|attendance|ticket|flight|hotel|stay|project|work)|"
    r"(?:employer|company|job|work)\s+(?:sponsor|paid|covered)|sponsor\s+booths?|"
    r"(?:conference|event|meetup|sprint|pycon)\s+sponsors?|interested\s+in\s+sponsoring|"
    r"become\s+a\s+sponsor|sponsor\s+(?:the|this|our)\s+(?:show|podcast|episode)\b|"
    r"sponsorship\s+(?:opportunities|inquiries|enquiries|info|packages)|"
    r"(?:past|previous|former)\s+sponsors?|(?:want|like|love)\s+to\s+sponsor|"
    r"looking\s+for\s+(?:a\s+)?sponsors?|sponsors?\s+(?:it|the\s+pep|a\s+pep)\b|"
    r"(?:pep|core\s+dev\w*)\s+(?:to\s+)?sponsor|corporate\s+sponsors?|"
    r"sponsor\s+(?:him|her|them|you|me)\b"
)
_NEGATIVE_NEEDS = (("sponsor", "paid", "covered"),)
_RELATED = re.compile(
    r"^(?:related|more\s+(?:episodes|from|like)|other\s+episodes|recent|previous|next|latest|"
    r"popular|similar|you\s+(?:might|may)|also\s+on|from\s+the\s+archive|archive|elsewhere|"
    r"listen\s+next|up\s+next|comments?|responses|replies|leave\s+a\s+(?:reply|comment)|"
    r"past\s+sponsors?|previous\s+sponsors?)\b",
    _I,
)
_KEYWORDS = Keywords(
    (
        "sponsor",
        "brought",
        "support",
        "thank",
        "possible",
        "powered",
        "presented",
        "funded",
        "partner",
        "underwrit",
        "advert",
        "ad:",
        "ad -",
        "ad –",
        "ad —",
        "keeps this",
    ),
    ONE_PASS,
)
_SHOUTOUT = re.compile(r"patreon|patrons?\b|supporters\b|backers\b|members\b|donat", _I)
_CHAPTER_AD = (
    re.compile(
        r"^(?:sponsor(?:ed\s+by)?|sponsor\s+(?:break|message|read|segment|spot)|"
        r"(?:a\s+)?(?:word|message)s?\s+from(?:\s+our\s+sponsors?)?|"
        r"ad(?:vert(?:isement)?)?(?:\s+(?:break|read|"
        r"segment|spot))?|(?:mid|pre|post)-?roll|commercial(?:\s+break)?)"
        r"\s*(?:[:\-–—]\s*|\s+)(\S.*)$",
        _I,
    ),
    re.compile(
        r"^(\S.*?)\s*[\(\[]?\s*(?:sponsor(?:ed)?(?:\s+(?:segment|read|break|spot|message))?|"
        r"ad(?:vert)?\s+(?:segment|read|break|spot))\s*[\)\]]?(?:\s*[/|,&+]\s*.*)?$",
        _I,
    ),
)
# a match of the second _CHAPTER_AD holds "sponsor", or "ad" and what kind of ad
_NAMED_AD_NEEDS = (("sponsor", "ad"), ("sponsor", "segment", "read", "break", "spot"))
_ENTRY_SENTENCES = 4
# between two brands of one phrase: "A, B", "A and B", "A (a.example) and by B"
_LIST_SEP = re.compile(
    r"[ \t]*(?:\([^()]{0,80}\)[ \t]*)?(?:,[ \t]*(?:and[ \t]+|&[ \t]+)?|and[ \t]+|&[ \t]+)"
    r"(?:also[ \t]+|by[ \t]+)?"
)
_ENTRY_SEP = re.compile(r"\s*(?:$|[–—:|(,]|-\s|\(|\.\s*$)")
_LEAD_IN = re.compile(
    r"^(?:and\s+)?(?:(?:a\s+)?(?:big\s+|huge\s+|special\s+)?thanks?(?:\s+you)?(?:\s+(?:also|again))?"
    r"\s+to\s+(?:our\s+(?:sponsors?|friends)\s+(?:at\s+)?)?)?",
    _I,
)


@dataclass
class Mention:
    name: str
    url: str | None
    block: int
    offset: int
    sentence: Span
    via: str
    strength: float
    start: int | None
    lower: bool = False  # read from lower-case text: needs confirmation
    heard: bool = False  # from speech: may be misheard
    tail: tuple[str, ...] = ()  # words after a lower-case name, in case it spans them
    evidence: str | None = None  # for mentions outside the blocks (chapters)


def find_mentions(d: DocView, show: str | None) -> list[Mention]:
    """Every sponsor mention in the eligible blocks and the chapters of the document."""
    out: list[Mention] = []
    show_key = key(show or "")
    all_hits = d.hits(_KEYWORDS)
    for bi, block in enumerate(d.blocks):
        if not eligible(block):
            continue
        heard = block.kind == "cue"
        hits = all_hits[bi]
        for sent in d.sents(bi) if hits else ():
            if not any_between(hits, sent.start, sent.end):
                continue
            text = block.text[sent.start : sent.end]
            folded = fold(text)
            if may_match(folded, _NEGATIVE_NEEDS) and _NEGATIVE.search(text, folded):
                continue
            out.extend(_triggered(d, bi, block, sent, heard, plain(text), show_key))
            label = _LABEL.match(text) if may_match(folded, _LABEL_NEEDS) else None
            if label:
                out.extend(_entry(d, bi, block, sent.start + label.end(), sent, "label", 0.9))
        if (
            block.kind in ("item", "para", "row")
            and block.section
            and _sponsors_heading(block.section)
        ):
            for sent in d.sents(bi)[:_ENTRY_SENTENCES]:  # "A: tagline. B: tagline."
                if not _NEGATIVE.pattern.search(block.text, sent.start, sent.end):
                    out.extend(_entry(d, bi, block, sent.start, sent, "section", 0.85))
    out.extend(_chapter_mentions(d))
    return out


def eligible(block: Block) -> bool:
    """Main content outside related-posts, comments and past-sponsor lists."""
    return block.region == "main" and not (block.section and _related(block.section))


@lru_cache(maxsize=1024)
def _related(section: str) -> bool:
    """Whether a section heading opens related posts (every block of it asks again)."""
    return bool(_RELATED.match(section))


@lru_cache(maxsize=1024)
def _sponsors_heading(section: str) -> bool:
    """Whether a section heading opens this episode's sponsors (as ``_related``)."""
    return bool(_SPONSOR_HEADING.match(section)) and not _NEGATIVE.search(section)


def _our_subject(before: str, show_key: str) -> bool:
    """Whether what is 'sponsored by' is this episode or show, not a conference or a trip:
    the subject is the clause before the phrase (for 'which was sponsored by', the words
    the 'which' points back to)."""
    clauses = _CLAUSE.split(before)
    subject = _AUX_TAIL.sub("", clauses[-1]).strip(" \n")
    if subject.lower() in ("which", "who", "that") and len(clauses) > 1:
        subject = " ".join(clauses[-2].split()[-3:])
    elif not subject or subject.lower() in ("this", "that", "it", "and"):
        return True
    if _OUR_SUBJECT.search(subject):
        return True
    return bool(show_key) and show_key in key(subject)


def _our_object(text: str, pos: int, end: int, show_key: str) -> bool:
    """Whether 'for supporting ...' is about this show."""
    if _OUR_OBJECT.match(text, pos, end):
        return True
    return bool(show_key) and key(text[pos : min(end, pos + 60)]).startswith(show_key)


def _triggered(
    d: DocView, bi: int, block: Block, sent: Span, heard: bool, plained: str, show_key: str
) -> list[Mention]:
    """Mentions named by a sponsorship phrase in the sentence (``plained``: it as ``plain``
    text; ``show_key``: the show's ``key``)."""
    text = block.text
    out: list[Mention] = []
    s_text = text[sent.start : sent.end]
    for pattern, strength, needs_context, needs in _FORWARD:
        if not may_match(plained, needs):
            continue
        for m in pattern.finditer(text, sent.start, sent.end):
            if needs_context and not _CONTEXT.search(text, sent.start, m.start()):
                continue
            before = text[sent.start : m.start()]
            if _PASSIVE.match(m.group(0)) and not _our_subject(before, show_key):
                continue  # "the conference was sponsored by X"
            pos = m.end()
            stop = sent.end
            if pos >= sent.end - 1:  # the name opens the next sentence or cue
                nxt = next((s for s in d.sents(bi) if s.start >= sent.end), None)
                stop = nxt.end if nxt else len(text)
                if nxt:
                    pos = max(pos, nxt.start)
            out.extend(_names_after(d, bi, block, pos, stop, sent, "trigger", strength, heard))
    thanks = _THANKS_FOR.finditer(text, sent.start, sent.end) if "thank" in plained else ()
    for m in thanks:
        if _SHOUTOUT.search(s_text):
            continue
        if not m.group("sponsoring") and not _our_object(text, m.end(), sent.end, show_key):
            continue  # "thanks X for supporting his work"
        out.extend(_names_after(d, bi, block, m.start(1), m.end(1), sent, "trigger", 0.9, heard))
    for pattern, needs in _BACKWARD:
        if not may_match(plained, needs):
            continue
        for m in pattern.finditer(text, sent.start, sent.end):
            link = _link_ending(block, m.start())
            if link is not None:
                out.append(_from_link(link, bi, block, sent, "trigger", 0.9, heard))
                continue
            got = brand_before(text, m.start(), sent.start)
            if got:
                name, start, _end = got
                out.append(
                    Mention(
                        name,
                        None,
                        bi,
                        start,
                        sent,
                        "trigger",
                        0.9,
                        block.seconds_at(sent.start),
                        heard=heard,
                    )
                )
    return out


def _names_after(
    d: DocView,
    bi: int,
    block: Block,
    pos: int,
    stop: int,
    sent: Span,
    via: str,
    strength: float,
    heard: bool,
) -> list[Mention]:
    """One or more brands ('A and B', 'A, B') at ``pos``, from links or words."""
    text = block.text
    out: list[Mention] = []
    at = pos
    for _ in range(4):
        link = _link_at(block, at)
        if link is not None:
            out.append(_from_link(link, bi, block, sent, via, strength, heard))
            after = link.start + len(link.text)
        else:
            got = brand_at(text, at, stop, allow_lower=heard)
            if got is None:
                if not out:
                    link = _link_in(block, at, min(stop, at + 80))
                    if link is not None:
                        out.append(
                            _from_link(
                                link,
                                bi,
                                block,
                                sent,
                                via,
                                strength * 0.85,
                                heard,
                                prefer_domain=True,
                            )
                        )
                break
            name, start, after = got
            lower = not name[:1].isupper() and not name[:1].isdigit()
            tail = _spoken_tail(text, after, stop) if lower else ()
            out.append(
                Mention(
                    name,
                    None,
                    bi,
                    start,
                    sent,
                    via,
                    strength,
                    block.seconds_at(sent.start),
                    lower=lower,
                    heard=heard,
                    tail=tail,
                )
            )
        sep = _LIST_SEP.match(text, after, stop)
        if not sep:
            break
        at = sep.end()
    return out


def _spoken_tail(text: str, after: int, stop: int) -> tuple[str, ...]:
    """Up to two lower-case words after a lower-case name: speech may split a brand
    ('mail trap', 'quarry base'); the words are tried joined when the brand is resolved."""
    tail: list[str] = []
    prev = after
    for w in words(text, after, stop):
        if text[prev : w.start] != " " or not w.text.isalpha() or w.lower in STOPWORDS:
            break
        tail.append(w.text)
        prev = w.end
        if len(tail) == 2:
            break
    return tuple(tail)


def _entry(
    d: DocView, bi: int, block: Block, pos: int, sent: Span, via: str, strength: float
) -> list[Mention]:
    """A sponsor list entry: 'Brand – tagline, code X' or '<a>Brand</a>: ...'."""
    text = block.text
    lead = _LEAD_IN.match(text[pos:])
    at = pos + (lead.end() if lead else 0)
    heard = block.kind == "cue"
    found = _names_after(d, bi, block, at, len(text), sent, via, strength, heard)
    if via == "section":
        if is_self_promo_text(text):
            return []
        found = [m for m in found[:1] if m.url or _ENTRY_SEP.match(text, _name_end(text, m))]
    if found:
        return found
    links = [lk for lk in block.links if lk.start >= pos or lk.start < 0]
    if via == "section" and pos > 0:
        links = [lk for lk in links if pos <= lk.start < sent.end]
    if links:
        return [
            _from_link(links[0], bi, block, sent, via, strength * 0.9, heard, prefer_domain=True)
        ]
    return []


def _name_end(text: str, m: Mention) -> int:
    at = text.find(m.name, m.offset)
    return at + len(m.name) if at >= 0 else len(text)


def _link_at(block: Block, pos: int) -> Link | None:
    for link in block.links:
        if link.start >= 0 and 0 <= link.start - pos <= 4 and link.text:
            return link
    return None


def _link_in(block: Block, pos: int, stop: int) -> Link | None:
    for link in block.links:
        if pos <= link.start < stop and link.href.startswith(("http", "//")):
            return link
    return None


def _link_ending(block: Block, pos: int) -> Link | None:
    for link in block.links:
        if link.start >= 0 and 0 <= pos - (link.start + len(link.text)) <= 1:
            return link
    return None


def _brand_like(text: str) -> bool:
    t = text.strip()
    if not t or len(t) > 40 or is_url_like(t):
        return bool(t) and is_url_like(t)
    ws = t.split()
    return (
        len(ws) <= 4
        and (t[0].isupper() or t[0].isdigit())
        and sum(1 for w in ws if w[:1].islower()) <= 1
    )


def _from_link(
    link: Link,
    bi: int,
    block: Block,
    sent: Span,
    via: str,
    strength: float,
    heard: bool,
    *,
    prefer_domain: bool = False,
) -> Mention:
    offset = max(link.start, 0)
    if _brand_like(link.text) and not (prefer_domain and not _label_matches(link)):
        name = link.text
    else:
        name = brand_from_label(domain_label(link.href))
    return Mention(
        name, link.href, bi, offset, sent, via, strength, block.seconds_at(sent.start), heard=heard
    )


def _label_matches(link: Link) -> bool:
    label, k = domain_label(link.href), key(link.text)
    return bool(label) and bool(k) and (label.startswith(k[:5]) or k.startswith(label[:5]))


def _chapter_mentions(d: DocView) -> list[Mention]:
    out: list[Mention] = []
    for chapter in chapters_of(d.doc):
        title = chapter.title.strip()
        m = _CHAPTER_AD[0].match(title)
        if not m and may_match(fold(title), _NAMED_AD_NEEDS):
            m = _CHAPTER_AD[1].match(title)
        if not m:
            continue
        got = brand_at(m.group(1), 0, len(m.group(1)))
        if got:
            out.append(
                Mention(
                    got[0],
                    None,
                    -1,
                    0,
                    Span(0, len(title)),
                    "chapter",
                    0.8,
                    chapter.start,
                    evidence=f"Chapter at {chapter.start // 60}:{chapter.start % 60:02d}: {title}",
                )
            )
    return out
