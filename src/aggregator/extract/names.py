"""Reading a brand or a person's name that starts (or ends) at a given place in text.

Names are read word by word rather than with one pattern: capitalised words, joined by
the few connectors names use ("&", "for", "de", "van"), stopping at punctuation, a line
break, a common word or a repeated word ("Acme Acme helps you ship" is one brand).
"""

from __future__ import annotations

import re
from functools import lru_cache

from aggregator.extract.text import DOMAIN, STOPWORDS, Word, word_set, words

MAX_BRAND_WORDS = 4
MAX_NAME_WORDS = 5

_JOINERS = frozenset({"&", "for", "of", "+"})
_PARTICLES = frozenset(
    {
        "de",
        "da",
        "di",
        "van",
        "von",
        "der",
        "den",
        "du",
        "dos",
        "das",
        "del",
        "la",
        "le",
        "bin",
        "ibn",
        "al",
        "el",
        "ter",
        "zu",
        "st",
        "mc",
        "y",
    }
)
_TITLES = frozenset({"dr", "prof", "professor", "sir", "dame", "mr", "mrs", "ms", "mx"})
_NOT_BRAND_START = STOPWORDS | word_set(
    """and but or so our their his her its my your this that these those there what when
    where who why how which while if because with without sponsor sponsors sponsored
    listeners listener today tonight episode show podcast week everyone all some"""
)
_NOT_NAME = word_set(
    """the a an this that our my your his her their its we you they he she it episode show
    podcast python django rust javascript java go open source data web code software
    guest guests host hosts today welcome thanks thank hello hi hey and or but with on in at
    for of to from by about after before part chapter intro outro bonus special live q&a
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december season transcript
    notes links sponsors sponsor panel interview questions answers mailbag news follow
    subscribe check visit join get go see please listen download support learn read watch
    find try use sign click tell ask let make i"""
)
_JOINING_WORDS = frozenset({"the", "and", "for", "with", "on", "in", "at", "to", "of", "by", "or"})
_SOFT_BREAK = re.compile(r"^[\s\u00a0]*$")
_NAME_GAP = re.compile(r"^[ \t\u00a0]+$")


def _soft(gap: str, *, allow_newline: bool) -> bool:
    """Only spaces between two words of one name (a line break when allowed)."""
    if allow_newline:
        gap = gap.replace("\n", " ")
    return bool(_SOFT_BREAK.match(gap)) and "\n" not in gap


def brand_at(
    text: str, pos: int, end: int, *, allow_lower: bool = False, allow_newline_first: bool = True
) -> tuple[str, int, int] | None:
    """The brand name starting at ``pos`` (before ``end``), as (name, start, end)."""
    found: list[Word] = []
    prev_end = pos
    pending_joiner: Word | None = None
    for w in words(text, pos, end):
        between = text[prev_end : w.start]
        if found and between.strip() == "&" and "\n" not in between and w.capitalised:
            found.append(w)
            prev_end = w.end
            continue
        if found and not _soft(between, allow_newline=False):
            break
        if not found and not _soft(between, allow_newline=allow_newline_first):
            break
        dom = DOMAIN.fullmatch(w.text)
        if found and w.lower == found[-1].lower:
            break  # "Acme Acme helps you ship"
        if w.lower in _JOINERS and found:
            pending_joiner = w
            prev_end = w.end
            continue
        if dom and not found:
            return w.text, w.start, w.end
        if w.capitalised and w.lower not in (STOPWORDS if found else _NOT_BRAND_START):
            if pending_joiner is not None:
                found.append(pending_joiner)
                pending_joiner = None
            found.append(w)
            prev_end = w.end
            if len(found) >= MAX_BRAND_WORDS:
                break
            continue
        if (
            not found
            and allow_lower
            and w.lower not in _NOT_BRAND_START
            and len(w.text) >= 3
            and w.text.isalpha()
        ):
            return w.text, w.start, w.end
        break
    if not found:
        return None
    start, stop = found[0].start, found[-1].end
    name = text[start:stop]
    name = re.sub(r"['’]s$", "", name)
    return name, start, start + len(name)


def brand_before(text: str, pos: int, floor: int) -> tuple[str, int, int] | None:
    """The brand name ending just before ``pos`` ("Acme is sponsoring us")."""
    ws = list(words(text, floor, pos))
    found: list[Word] = []
    nxt = pos
    for w in reversed(ws):
        between = text[w.end : nxt]
        if not _soft(between, allow_newline=False):
            break
        if w.lower in _JOINERS and found:
            found.insert(0, w)
            nxt = w.start
            continue
        if w.capitalised or DOMAIN.fullmatch(w.text):
            found.insert(0, w)
            nxt = w.start
            if len(found) >= MAX_BRAND_WORDS:
                break
            continue
        break
    while found and (found[0].lower in _JOINERS or found[0].lower in _NOT_BRAND_START):
        found.pop(0)
    if not found:
        return None
    return text[found[0].start : found[-1].end], found[0].start, found[-1].end


def person_at(
    text: str, pos: int, end: int, *, allow_newline: bool = False, limit: int = MAX_NAME_WORDS
) -> tuple[str, int] | None:
    """A person's name (two to five words) starting at ``pos``, and where it ends."""
    found: list[Word] = []
    prev_end = pos
    pending: list[Word] = []
    for w in words(text, pos, end):
        between = text[prev_end : w.start]
        if allow_newline:
            between = between.replace("\n", " ")
        if found and not _NAME_GAP.match(between):
            break
        if not found and between.strip(" \t\u00a0*_\"“'‘"):
            break
        lw = w.lower.rstrip(".")
        if not found and lw in _TITLES:
            prev_end = w.end + (1 if text[w.end : w.end + 1] == "." else 0)
            continue
        if found and lw in _PARTICLES and not w.capitalised:
            pending.append(w)
            prev_end = w.end
            continue
        rejected = lw in _NOT_NAME and not (found and len(lw) <= 3 and lw not in _JOINING_WORDS)
        if len(w.text) == 1 and text[w.end : w.end + 1] != ".":
            rejected = True  # "I", not an initial
        if w.capitalised and not rejected and not any(c.isdigit() for c in w.text):
            found.extend(pending)
            pending = []
            found.append(w)
            prev_end = w.end
            if text[w.end : w.end + 1] == "." and len(w.text) <= 2:
                prev_end = w.end + 1  # an initial: "J. Doe"
            if len(found) >= limit:
                break
            continue
        break
    if len(found) < 2:
        return None
    stop = found[-1].end
    if len(found[-1].text) <= 2 and text[stop : stop + 1] == ".":
        return None  # ends on an initial: not a whole name
    return text[found[0].start : stop], stop


@lru_cache(maxsize=1024)
def names_list(
    text: str, pos: int, end: int, *, allow_newline: bool = False, pairs: bool = False
) -> tuple[str, ...]:
    """Names in a list at ``pos``: 'A B, C D and E F'. With ``pairs``, an unpunctuated run
    of an even number of words ('A B C D') is read as two-word names, as transcripts
    write a list of guests. Remembered: a feed's items repeat their 'Hosted by' lines."""
    out: list[str] = []
    at = pos
    while len(out) < 12:
        got = person_at(
            text, at, end, allow_newline=allow_newline, limit=12 if pairs else MAX_NAME_WORDS
        )
        if not got:
            break
        name, stop = got
        parts = name.split()
        if pairs and len(parts) >= 4 and len(parts) % 2 == 0:
            out.extend(" ".join(parts[i : i + 2]) for i in range(0, len(parts), 2))
        elif len(parts) > MAX_NAME_WORDS:
            break
        else:
            out.append(name)
        sep = re.match(r"\s*(?:,\s*(?:and\s+|&\s+)?|and\s+|&\s+|\+\s+)", text[stop:end])
        if not sep:
            break
        at = stop + sep.end()
    return tuple(out)


def person_before(text: str, pos: int) -> str | None:
    """A person's name (two to four words) ending just before ``pos``: 'Ada Moss joins us'."""
    found: list[Word] = []
    nxt = pos
    for w in reversed(list(words(text, max(0, pos - 80), pos))):
        if not (_NAME_GAP.match(text[w.end : nxt]) or (not found and w.end == nxt)):
            break
        if not w.capitalised or w.lower in _NOT_NAME or any(c.isdigit() for c in w.text):
            break
        found.insert(0, w)
        nxt = w.start
        if len(found) == 4:
            break
    if len(found) < 2:
        return None
    return text[found[0].start : found[-1].end]
