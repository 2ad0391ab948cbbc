"""Hosts and guests of an episode.

Structured sources first (podcast:person, a transcript's "Speakers:" line, front matter,
JSON-LD), then how show notes and hosts introduce people: "Guest: X", "Guests" headings
with a list, "my guest today is X", "joined by X", "joining me is X", "I'm here with X",
"we talk with X", a title "... with X", and a description that opens with the guest's
name ("X and Y on ..."). Hosts ("Hosted by", "Hosts:", "I'm X" opening a transcript) are
never guests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.extract.names import names_list, person_at, person_before
from aggregator.extract.text import Joined, key, may_match, sentences
from aggregator.extract.text import plain as _plain
from aggregator.model import Person
from aggregator.parse.document import Block, Document

_I = re.I
_GUEST_PATTERNS = tuple(
    re.compile(p, _I)
    for p in (
        r"\bguests?\s*[:\-–—]\s*",
        r"(?:^|[.!?]\s+)(?:our\s+|with\s+)?guests?\s+(?=[A-Z])",
        r"\b(?:our|my|today['’]s|this\s+week['’]s|this\s+episode['’]s)\s+(?:special\s+)?"
        r"guests?(?:\s+today|\s+this\s+week|\s+on\s+(?:the|this)\s+(?:show|episode))?"
        r"\s*(?:is|are|:|,)\s+",
        r"\bin\s+conversation\s+with\s+",
        r"\bwith\s+(?:me|us)\s+(?:today\s+|this\s+week\s+|now\s+)?(?:is|are)\s+",
        r"\b(?:let\s+me\s+)?introduc(?:e|ing)\s+(?:(?:my|our)\s+guests?,?\s+)?",
        r"\b(?:is|are|was|were|i['’]?m|we['’]re)\s+joined\s+(?:today\s+|this\s+week\s+)?by\s+"
        r"(?:(?:special\s+)?guests?\s+|(?:the\s+)?(?:wonderful|amazing|brilliant)\s+)?",
        r"\bjoining\s+(?:me|us)\s+(?:today\s+|this\s+week\s+|now\s+)?(?:is|are)\s+",
        r"\b(?:i['’]?m|i\s+am|we['’]re|we\s+are)\s+(?:here\s+|sitting\s+down\s+|sitting\s+|"
        r"talking\s+|speaking\s+|chatting\s+)?(?:with|to)\s+(?:my\s+)?(?:(?:two|three|four|"
        r"a\s+couple\s+of|some)\s+)?(?:special\s+|great\s+|amazing\s+|wonderful\s+)?"
        r"(?:guests?[,:]?\s+)?",
        r"\b(?:i|we)\s+have\s+(?:(?:two|three|four|a\s+couple\s+of|some|a)\s+)?(?:special\s+|"
        r"great\s+|amazing\s+)?guests?(?:\s+(?:today|this\s+week|on\s+the\s+show))?[,:.]?\s+",
        r"\bwith\s+(?:special\s+)?guests?\s+",
        r"\b(?:we|i)\s+(?:talk|talked|speak|spoke|chat|chatted|sit\s+down|sat\s+down)\s+"
        r"(?:with|to)\s+",
        r"\b(?:talks|speaks|chats|sits\s+down)\s+(?:with|to)\s+",
        r"\b(?:we|i)\s+(?:are\s+|were\s+|['’]re\s+)?interview(?:ed|ing)?\s+",
        r"\bspecial\s+guests?\s+",
        r"\bwelcomes?\s+(?:back\s+)?(?:guests?\s+)?(?=[A-Z])",
        r"\bfeaturing\s+",
    )
)
# Per pattern of _GUEST_PATTERNS, groups of words: a match holds one word of every group
# (see ``may_match``), so a block lacking them skips the pattern. The words are read in
# ``_plain`` text, where a pattern's ``\s+`` is one space: "we are " rather than "we".
# The rarest group comes first: most blocks fail on it.
_GUEST_NEEDS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("guest",), (":", "-", "–", "—")),
    (("guest ", "guests "),),
    (
        ("guest",),
        ("our ", "my ", "today's ", "today’s ", "week's ", "week’s ", "episode's ", "episode’s "),
    ),
    (("in conversation with ",),),
    (("with me ", "with us "),),
    (("introduce ", "introducing "),),
    (("joined ",), ("by ",)),
    (("joining me ", "joining us "),),
    (("i'm ", "i’m ", "im ", "i am ", "we're ", "we’re ", "we are "), (" with ", " to ")),
    (("guest",), ("have ",)),
    (("with guest", "with special guest"),),
    (
        ("talk ", "talked ", "speak ", "spoke ", "chat ", "chatted ", "sit down ", "sat down "),
        (" with ", " to "),
        ("we ", "i "),
    ),
    (("talks ", "speaks ", "chats ", "sits down "), (" with ", " to ")),
    (("we interview", "i interview", "re interview"),),
    (("special guest",),),
    (("welcome",),),
    (("featuring ",),),
)
_GUEST_WORDS = (
    "guest",
    "join",
    "with",
    "talk",
    "speak",
    "chat",
    "interview",
    "welcome",
    "featur",
    "introduc",
    "sit",
    "sat",
)
_GUEST_RULES = tuple(zip(_GUEST_PATTERNS, _GUEST_NEEDS, strict=True))
# The rules a block without "guest" may match: the others need it in every word of a group.
_GUESTLESS_RULES = tuple(
    (p, needs)
    for p, needs in _GUEST_RULES
    if not any(all("guest" in w for w in group) for group in needs)
)
_PANEL = re.compile(r"\bwe\s+have\s+", _I)
_JOINS = re.compile(
    r"\s+(?:joins|joined|is\s+joining|returns\s+to|is\s+back\s+on|(?:is|was)\s+(?:my|our)\s+"
    r"guest|stops\s+by|drops\s+by)\b",
    _I,
)
_JOINS_NEEDS = (
    (
        " joins",
        " joined",
        " is joining",
        " returns to",
        " is back on",
        " is my guest",
        " is our guest",
        " was my guest",
        " was our guest",
        " stops by",
        " drops by",
    ),
)
_HOST_PATTERNS = tuple(
    re.compile(p, _I)
    for p in (
        r"\bhosts?\s*[:\-–—]\s*",
        r"(?<!site\s)(?<!audio\s)(?<!website\s)(?<!media\s)\bhosted\s+by\s+"
        r"(?:the\s+co-?founders,?\s+)?",
        r"\byour\s+hosts?\s+(?:as\s+(?:usual|always|ever)\s+)?(?:is|are|:)?\s*",
        r"\bjoined\s+as\s+(?:ever|always|usual)\s+by\s+",
        r"\bco-?hosts?\s+",
        r"\bhost\s+(?=[A-Z])",
        r"\bthis\s+is\s+your\s+host\s+",
    )
)
# Per pattern of _HOST_PATTERNS, its gate words in ``_plain`` text, as _GUEST_NEEDS.
_HOST_NEEDS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("host",), (":", "-", "–", "—")),
    (("hosted by ",),),
    (("your host",),),
    (("joined as ",),),
    (("cohost", "co-host"),),
    (("host ",),),
    (("this is your host ",),),
)
_HOST_RULES = tuple(zip(_HOST_PATTERNS, _HOST_NEEDS, strict=True))
_SELF_INTRO = re.compile(r"\b(?:i['’]?m|i\s+am|my\s+name\s+is)\s+(?:your\s+host,?\s+)?", _I)
_SELF_INTRO_NEEDS = (("i'm ", "i’m ", "im ", "i am ", "my name is "),)
_GUEST_HEADING = re.compile(
    r"^(?:(?:our|this\s+week['’]s|today['’]s|episode)\s+)?(?:guests?|panel(?:ists)?|"
    r"featuring|speakers?|with)\s*:?$",
    _I,
)
_LEAD_NAMES_FOLLOW = re.compile(
    r"^\s*(?:,\s*)?(?:on|is|was|has|had|joins?|join(?:s|ed)?\s+us|stops\s+by|drops\s+by|"
    r"comes\s+on|returns|and\s+I|(?-i:[a-z]{2,}(?:s|ed)))\b",
    _I,
)
_TITLE_WITH = re.compile(r"\b(?:with|feat\.?|featuring|ft\.)\s+", _I)
_TITLE_SEP = re.compile(r"\s*[:\-–—|]\s")
_TITLE_TAIL = re.compile(r"\s[-–—|:]\s+([^-–—|:]+)$")
# Every name the rules read is two capitalised words with only spaces (a line break in
# speech), a dot after an initial, or particles ('van', 'de') between: a block without
# such a pair names nobody. Any letter past ASCII may be a capital.
_NAME_PAIR = re.compile(
    r"[A-Z\u00c0-\U0010ffff][\w'’.&+-]*[ \t\u00a0\n]+(?:[abdeilmstvyz][a-zA-Z]{0,2}[ \t\u00a0\n]+)*"
    r"[A-Z\u00c0-\U0010ffff]"
)
_TOP_TURNS = 6
_SPOKEN_BUDGET = 5000


@dataclass
class _People:
    hosts: list[str]
    guests: list[str]


def find_people(
    doc: Document, *, title: str, known: Sequence[Person] = (), show: str | None = None
) -> tuple[Person, ...]:
    """Hosts and guests, names as written, each once, hosts never as guests."""
    found = _People(
        [p.name for p in known if p.role == "host"], [p.name for p in known if p.role == "guest"]
    )
    for name, role in doc.speakers:
        (found.hosts if role == "host" else found.guests).append(name)
    _front_matter(doc, found)
    read = _Read.of(doc)
    _hosts_from_text(read, found)
    _guests_from_title(title, doc, found)
    _guests_from_text(read, found)
    _lead_names_in_meta(doc, found)
    _speaker_guests(doc, found)
    hosts = _unique(found.hosts)
    host_keys = _name_keys(hosts)
    show_key = key(show or "")
    guests = [g for g in _unique(found.guests) if not _is_host(g, host_keys) and key(g) != show_key]
    guests = _drop_partial_duplicates(guests)
    by_name = {key(p.name): p for p in known}
    out = [by_name.get(key(h)) or Person(h, "host") for h in hosts]
    out += [by_name.get(key(g)) or Person(g, "guest") for g in guests]
    return tuple(out)


def _front_matter(doc: Document, found: _People) -> None:
    for k in ("guests", "guest"):
        if doc.meta.get(k):
            found.guests.extend(_split_names(doc.meta[k]))
    for k in ("hosts", "host", "authors", "author"):
        if doc.meta.get(k):
            found.hosts.extend(_split_names(doc.meta[k]))
    for obj in doc.jsonld:
        for k in ("actor", "performer", "guest"):
            for name in _jsonld_names(obj.get(k)):
                found.guests.append(name)
        for name in _jsonld_names(obj.get("author")):
            found.hosts.append(name)


def _jsonld_names(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            if item.get("@type") in (None, "Person"):
                out.append(item["name"].strip())
        elif isinstance(item, str) and len(item.split()) >= 2:
            out.append(item.strip())
    return out


def _split_names(text: str) -> list[str]:
    parts = re.split(r"\s*(?:;|,|\band\b|&)\s*", text)
    return [p.strip() for p in parts if len(p.split()) >= 2 and len(p) <= 60]


def _blocks(doc: Document) -> Iterable[tuple[Block, str]]:
    """Blocks to read for people, with their text; a transcript introduces people in its
    opening minutes, so only the first few thousand characters of talk are read."""
    budget = _SPOKEN_BUDGET
    for block in doc.blocks:
        text = block.text
        if block.kind == "cue":
            if budget <= 0:
                continue
            text = text[:budget]
            budget -= len(text)
        yield block, text


@dataclass(frozen=True, slots=True)
class _Read:
    """The blocks read for people (``_blocks``), and which of them may name one."""

    blocks: list[tuple[Block, str]]
    named: set[int]  # the blocks holding two capitalised words in a row (``_NAME_PAIR``)

    @classmethod
    def of(cls, doc: Document) -> _Read:
        blocks = list(_blocks(doc))
        return cls(blocks, Joined([text for _, text in blocks]).matching(_NAME_PAIR))


def _holds(text: str, words: Sequence[str]) -> bool:
    """Whether the lower-cased text holds one of the words."""
    low = text.lower()
    return any(word in low for word in words)


def _hosts_from_text(read: _Read, found: _People) -> None:
    turns = 0
    for i, (block, text) in enumerate(read.blocks):
        if block.kind == "cue":
            turns += 1
        if i not in read.named:
            continue
        plain = _plain(text)
        rules = _HOST_RULES if _holds(text, ("host", "joined as")) else ()
        for pattern in [p for p, needs in rules if may_match(plain, needs)]:
            for m in pattern.finditer(text):
                found.hosts.extend(names_list(text, m.end(), len(text)))
        if not may_match(plain, _SELF_INTRO_NEEDS):
            continue
        if (block.kind in ("cue", "meta") and turns <= _TOP_TURNS) or block.kind == "meta":
            for m in _SELF_INTRO.finditer(text):
                got = person_at(text, m.end(), len(text))
                if got:
                    found.hosts.append(got[0])
        if block.kind == "cue" and block.speaker and turns <= _TOP_TURNS:
            for m in _SELF_INTRO.finditer(text):
                got = person_at(text, m.end(), len(text))
                if got and key(block.speaker) and key(got[0]).startswith(key(block.speaker)[:3]):
                    found.hosts.append(block.speaker)


def _guests_from_title(title: str, doc: Document, found: _People) -> None:
    if not title:
        return
    for m in _TITLE_WITH.finditer(title):
        names = names_list(title, m.end(), len(title))
        if names and _ends_title(title, m.end(), names):
            found.guests.extend(names)
    end = len(title.rstrip(" ."))
    lead = person_at(title, 0, len(title))
    tail = _TITLE_TAIL.search(title)
    last = person_at(title, tail.start(1), len(title)) if tail else None
    if last and last[1] != end:
        last = None
    if not (lead or last):
        return  # the common case: no name to look for in the notes
    body = " ".join(b.text for b in doc.blocks[:400] if b.kind != "heading" and title not in b.text)
    if lead and lead[1] == end and _appears(lead[0], body):
        found.guests.append(lead[0])
        return
    if lead and _TITLE_SEP.match(title, lead[1]) and _appears(lead[0], body):
        found.guests.append(lead[0])
    if last and _surname_appears(last[0], body):
        found.guests.append(last[0])


def _ends_title(title: str, start: int, names: Sequence[str]) -> bool:
    rest = title[start:]
    last = names[-1]
    at = rest.find(last)
    return at >= 0 and not rest[at + len(last) :].strip(" .)]")


def _appears(name: str, body: str) -> bool:
    return name in body


def _surname_appears(name: str, body: str) -> bool:
    return bool(re.search(rf"\b{re.escape(name.split()[-1])}\b", body))


def _guests_from_text(read: _Read, found: _People) -> None:
    first_para = True
    turns = 0
    for i, (block, text) in enumerate(read.blocks):
        if block.region != "main":
            continue
        if block.kind == "cue":
            turns += 1
        lead = first_para and block.kind in ("para", "cue") and len(text) > 60
        first_para = first_para and not lead
        if i not in read.named:
            continue
        spoken = block.kind == "cue"
        plain = _plain(text)
        # where the patterns may run at all
        for pattern in _guest_patterns(plain) if _holds(text, _GUEST_WORDS) else ():
            for m in pattern.finditer(text):
                found.guests.extend(names_list(text, m.end(), len(text), allow_newline=spoken))
        for m in _JOINS.finditer(text) if may_match(plain, _JOINS_NEEDS) else ():
            got = person_before(text, m.start())
            if got:
                found.guests.append(got)
        if spoken and turns <= 3:
            for m in _PANEL.finditer(text):
                names = names_list(text, m.end(), len(text), allow_newline=True, pairs=True)
                if len(names) >= 2:
                    found.guests.extend(names)
        if block.section and _GUEST_HEADING.match(block.section) and block.kind in ("item", "para"):
            got = person_at(text, 0, len(text))
            if got:
                found.guests.append(got[0])
        if block.kind in ("para", "meta") and len(text) <= 160 and ("·" in text or "|" in text):
            for m in _TITLE_WITH.finditer(text):
                found.guests.extend(names_list(text, m.end(), len(text)))
        if lead:
            _lead_names(text, found)


def _lead_names_in_meta(doc: Document, found: _People) -> None:
    for k in ("description", "og:description", "summary"):
        if doc.meta.get(k):
            _lead_names(doc.meta[k], found)


def _guest_patterns(plain: str) -> list[re.Pattern[str]]:
    """The guest patterns a block (as ``_plain``) may match (see ``_GUEST_NEEDS``)."""
    rules = _GUEST_RULES if "guest" in plain else _GUESTLESS_RULES
    return [p for p, needs in rules if may_match(plain, needs)]


def _lead_names(text: str, found: _People) -> None:
    """A description opening with its guests: 'X and Y on logs', 'X explains ...'."""
    spans = sentences(text)
    if not spans:
        return
    first = spans[0]
    names = names_list(text, first.start, first.end)
    if not names:
        return
    last = names[-1]
    end = text.find(last, first.start) + len(last)
    if _LEAD_NAMES_FOLLOW.match(text[end : first.end]):
        found.guests.extend(names)


def _speaker_guests(doc: Document, found: _People) -> None:
    labels = {b.speaker for b in doc.blocks if b.kind == "cue" and b.speaker}
    for label in labels:
        if label and len(label.split()) >= 2 and not label.lower().startswith("speaker"):
            found.guests.append(label)


def _unique(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        name = name.strip().strip(",.;:")
        k = key(name)
        if k and k not in seen and len(name.split()) >= 2:
            seen.add(k)
            out.append(name)
    return out


def _name_keys(names: Iterable[str]) -> set[str]:
    return {key(n) for n in names}


def _is_host(name: str, host_keys: set[str]) -> bool:
    return key(name) in host_keys


def _drop_partial_duplicates(names: list[str]) -> list[str]:
    """'J. Doe' beside 'Jo Doe': one person, keep the first (fuller) spelling."""
    out: list[str] = []
    for name in names:
        parts = name.split()
        dup = False
        for kept in out:
            kp = kept.split()
            if (
                key(kp[-1]) == key(parts[-1])
                and key(kp[0])[:1] == key(parts[0])[:1]
                and (len(parts[0].rstrip(".")) <= 2 or len(kp[0].rstrip(".")) <= 2)
            ):
                dup = True
                break
        if not dup:
            out.append(name)
    return out
