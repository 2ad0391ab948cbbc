"""An episode's own title, apart from the decorations publishers wrap around it.

"Episode 63 - X", "Ep. 12: X", "#448: X", "S2E04 · X", "087 - X", "X | Show Name" all mean
the title X; the number (and season) move to their own fields. Only one number decoration
is removed (leading, else trailing), so a title that starts with a number of its own
("Episode 5: 10 - Things") keeps it. A title that would become empty stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from aggregator.sanitize import clean_text

MAX_NUMBER = 99_999

_DASHES = "-–—|·•"
# Unambiguous markers: a space is enough to end them ("Episode 12 Title").
_STRONG = (
    r"(?:s(?:eason)?\s*(?P<season>\d{1,3})\s*[,.]?\s*e(?:p(?:isode)?)?\.?\s*(?P<se_ep>\d{1,5})"
    r"|(?:episode|ep\.?)\s*(?:#|no\.?)?\s*(?P<strong_ep>\d{1,5}))"
)
# Markers that also start ordinary titles ("#1 Mistake", "E3 recap"): need punctuation.
_WEAK = r"(?:#|no\.\s?|e(?=\d))(?P<weak_ep>\d{1,5})"
_HEAD = re.compile(
    rf"^(?P<open>[\[(]\s*)?(?:{_STRONG}|{_WEAK})(?P<close>\s*[\])])?"
    rf"(?P<sep>\s*(?:[{_DASHES}]+|[:.](?=\s|$))\s*|\s+|$)",
    re.IGNORECASE,
)
# A bare number needs punctuation and a space after it, so "3.5 Ways" and "10:30" stay.
_HEAD_BARE = re.compile(rf"^(?P<bare_ep>\d{{1,4}})\s*[{_DASHES}:.]\s+")
_TAIL = re.compile(
    rf"(?:\s*[{_DASHES}:,]\s*|\s+(?=[\[(]))(?P<open>[\[(]\s*)?(?:{_STRONG}|{_WEAK})"
    r"(?P<close>\s*[\])])?\s*$",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_NON_WORD = re.compile(r"\W+")
_SHOW_SEP = re.compile(rf"\s*[{_DASHES}:]\s*|\s+(?=[\[(])")


@dataclass(frozen=True, slots=True)
class TitleParts:
    title: str
    number: int | None = None
    season: int | None = None


def split_title(raw: str, show: str | None = None, *, aliases: Iterable[str] = ()) -> TitleParts:
    """Split a raw title into the episode's own title, its number and its season.

    ``raw`` may hold HTML entities (decoded here, double-escaped ones too). ``show`` (and
    any ``aliases``, such as the feed's own title when the config names the show
    differently) is the show's name: a leading "Show Name: " or a trailing
    " | Show Name" / " - Show Name" is removed as well.
    """
    text = clean_text(raw)
    names = _show_names(show or "", tuple(aliases))
    title = own = _strip_show(text, names)
    number = season = None
    match = _head(title)
    if match:
        number, season = _numbers(match)
        title = title[match.end() :]  # empty when the title is only "Episode 63"
    else:
        match = _tail(title)
        if match and match.start() > 0:
            number, season = _numbers(match)
            title = title[: match.start()]
    title = _strip_show(title, names)
    title = title.strip(f" {_DASHES}:")
    return TitleParts(title=title or own, number=number, season=season)


@dataclass(frozen=True, slots=True)
class _ShowNames:
    """A show's names as :func:`_key` gives them, and the bounds that keep the search short."""

    keys: frozenset[str]
    heads: tuple[str, ...]  # each key and a space: how a title's key starts with the name
    tails: tuple[str, ...]  # a space and each key
    longest: int  # characters of a title piece that can still be a name
    most_words: int


@lru_cache(maxsize=32)  # all titles of a feed share these: worked out once per feed
def _show_names(show: str, aliases: tuple[str, ...]) -> _ShowNames | None:
    names = [key for key in (_key(clean_text(n)) for n in (show, *aliases)) if key]
    names += _acronyms(names)
    if not names:
        return None
    return _ShowNames(
        keys=frozenset(names),
        heads=tuple(f"{n} " for n in names),
        tails=tuple(f" {n}" for n in names),
        longest=2 * max(len(n) for n in names) + 8,
        most_words=max(len(n.split()) for n in names),
    )


def _balanced(match: re.Match[str]) -> bool:
    return bool(match.group("open")) == bool(match.group("close"))


def _head(title: str) -> re.Match[str] | None:
    match = _HEAD.match(title)
    if match and _balanced(match):
        bare_weak = (
            match.group("weak_ep") and not match.group("open") and match.group("sep").isspace()
        )
        if not bare_weak:
            return match
    match = _HEAD_BARE.match(title)
    if match and not _YEAR.fullmatch(match.group("bare_ep")):
        return match
    return None


def _tail(title: str) -> re.Match[str] | None:
    match = _TAIL.search(title)
    return match if match and _balanced(match) else None


def _numbers(match: re.Match[str]) -> tuple[int | None, int | None]:
    groups = match.groupdict()
    found = (groups.get(k) for k in ("se_ep", "strong_ep", "weak_ep", "bare_ep"))
    episode = next((int(g) for g in found if g), None)
    season = int(groups["season"]) if groups.get("season") else None
    if episode is not None and episode > MAX_NUMBER:
        episode = None
    return episode, season


def _key(text: str) -> str:
    return _NON_WORD.sub(" ", text.casefold()).strip()


def _strip_show(title: str, names: _ShowNames | None) -> str:
    """Remove the show's name where it stands before or after the title behind a separator,
    or before a number marker ("Show Name #12: Title")."""
    if names is None:
        return title
    # Separators and spaces are not word characters, so the key of a piece before or after
    # one is the start or the end of the title's key, up to a space: when no name stands
    # there, no piece is a name.
    key = _key(title)
    if not (key in names.keys or key.startswith(names.heads) or key.endswith(names.tails)):
        return title
    # Only pieces about as long as a name can be one, which keeps long titles linear.
    for sep in _SHOW_SEP.finditer(title):
        head, tail = title[: sep.start()], title[sep.end() :]
        if not head or not tail:
            continue
        if len(head) <= names.longest and _key(head) in names.keys:
            return tail
        if len(tail) <= names.longest and _key(tail) in names.keys:
            return head
    words = title.split(" ")
    for i in range(1, min(len(words), names.most_words + 1)):
        if _key(" ".join(words[:i])) in names.keys:
            rest = " ".join(words[i:])
            return rest if _head(rest) else title
    return title


def _acronyms(names: list[str]) -> list[str]:
    """'null hypothesis hour' is also written 'NHH' ("NHH #88 - Title")."""
    out = []
    for name in names:
        words = name.split()
        if 2 <= len(words) <= 5:
            out.append("".join(w[0] for w in words))
            if words[0] == "the":
                out.append("".join(w[0] for w in words[1:]))
    return [a for a in out if len(a) >= 3 and a not in names]  # "AI", "ML" are words
