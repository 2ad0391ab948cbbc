"""Show name, episode title, number and season of a page or transcript.

Every title a document offers is a candidate (the page's h1, og:title, JSON-LD, <title>,
front matter, a transcript's header lines). ``split_title`` strips the decorations of
each; candidates then vote: a number written in one ("The Show #205: Title") applies to
another that shows the same title ("#205 Title"), and the text before an episode marker
in the middle of a line is the show's name. Numbers are never taken from links or from
references to other episodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.extract.text import key
from aggregator.extract.titles import split_title
from aggregator.parse.document import Document

_MARKER = re.compile(
    r"(?:^|(?<=[\s—–|·•,:(\[-]))(?:(?:episode|ep\.?)\s*#?\s*\d{1,5}|#\d{1,5}|"
    r"s\d{1,3}\s*e\d{1,5})\b",
    re.I,
)
_ONLY_MARKER = re.compile(
    r"^(?:(?:episode|ep\.?)\s*#?\s*(\d{1,5})|#(\d{1,5})|"
    r"s(\d{1,3})\s*e(\d{1,5}))$",
    re.I,
)
_TITLE_LABEL = re.compile(r"^(?:episode\s+)?title\s*:\s*(\S.*)$", re.I)
_TRAILING_MARKER = re.compile(
    r"(?:(?:episode|ep\.?)\s*#?\s*\d{1,5}|#\d{1,5}|s\d{1,3}\s*e\d{1,5})\s*$", re.I
)
_WEAK_HEAD = re.compile(r"^#(\d{1,5})\s+(?=\S)")
_TRANSCRIPT_WORD = re.compile(
    r"^(?:full\s+|episode\s+)?transcript\s*(?:[:\-–—|]\s*|\s+of\s+|\s+for\s+)|"
    r"\s*[\(\[]?(?:full\s+|episode\s+)?transcript[\)\]]?\s*$",
    re.I,
)
_SEPARATORS = " \t-–—|·•:,"
_NAV = re.compile(r"^(?:[←«‹<]|back\s+to\b|skip\s+to\b|home\b|menu\b|share\b)", re.I)
_META_LINE = re.compile(
    r"^(?:published|posted|date|recorded|aired|source|speakers?|hosts?|guests?|duration|"
    r"length|language|tags|category|full\s+transcript|transcript\b|chapters?|url|link)\b",
    re.I,
)
_EPISODE_LINE = re.compile(r"^(?:episode|ep\.?|no\.?)\s*#?\s*(\d{1,5})\b(?![:.]\d)", re.I)
_SHOW_KEYS = ("og:site_name", "application-name", "apple-mobile-web-app-title")
_TOP_BLOCKS = 8


@dataclass(frozen=True, slots=True)
class Headline:
    title: str
    number: int | None = None
    season: int | None = None
    show: str | None = None


def _split(line: str, show: str | None) -> Headline:
    """One candidate: its own title, number, season and (if it names one) the show."""
    line = _TRANSCRIPT_WORD.sub("", line).strip()
    parts = split_title(line, show)
    guess = None
    if parts.number is None:
        m = next((m for m in _MARKER.finditer(line) if m.start() > 0), None)
        if m is not None:
            prefix = line[: m.start()].strip(_SEPARATORS)
            if prefix and len(prefix) <= 60:
                guess = prefix
                parts = split_title(line, prefix)
    title = parts.title.strip(_SEPARATORS) or parts.title
    return Headline(title, parts.number, parts.season, guess or show)


def headline(doc: Document, show: str | None = None) -> Headline:
    """The episode's headline from whichever candidates the document has."""
    if doc.kind == "transcript":
        return _from_lines(list(doc.header), show)
    show = show or _site_name(doc)
    candidates = [c for c in doc.titles if c.strip()]
    if not candidates:
        return Headline("", _number_near_top(doc), None, show)
    if show is None:
        show = _show_from_candidates(candidates)
    if show and len(candidates) > 1 and key(candidates[0]) == key(show):
        candidates = candidates[1:]  # the page's h1 is the site's name, not the episode's
    split = [_split(c, show) for c in candidates]
    best = split[0]
    for other in split[1:]:
        if best.number is None and other.number is not None:
            best = _adopt(best, other)
    number = best.number if best.number is not None else _structured_number(doc)
    if number is None:
        number = _number_near_top(doc)
    title = best.title
    if title == candidates[0] and len(candidates) == 1 and doc.kind == "html" and show is None:
        title = _drop_site_suffix(title)
    return Headline(
        title, number, best.season, show or next((h.show for h in split if h.show), None)
    )


def _show_from_candidates(candidates: list[str]) -> str | None:
    """What a longer title candidate adds around the episode's title is the show's name:
    'Episode 118: Title | Show' around 'Title'."""
    own = _split(candidates[0], None).title
    if not own:
        return None
    for other in candidates[1:]:
        at = other.lower().find(own.lower())
        if at < 0:
            continue
        for rest in (other[:at], other[at + len(own) :]):
            rest = _MARKER.sub("", rest).strip(_SEPARATORS)
            if rest and len(rest) <= 60 and any(ch.isalpha() for ch in rest):
                return rest
    return None


def _adopt(best: Headline, other: Headline) -> Headline:
    """Take another candidate's number when it shows the same title."""
    kb, ko = key(best.title), key(other.title)
    if not ko or ko not in kb:
        return best
    title = best.title
    weak = _WEAK_HEAD.match(title)
    if weak and int(weak.group(1)) == other.number:
        title = title[weak.end() :]
    elif kb != ko and kb.endswith(ko):
        title = other.title
    return Headline(title, other.number, other.season or best.season, best.show or other.show)


def _site_name(doc: Document) -> str | None:
    for k in _SHOW_KEYS:
        if doc.meta.get(k):
            return doc.meta[k]
    for k in ("show", "podcast", "series"):
        if doc.meta.get(k):
            return doc.meta[k]
    for obj in doc.jsonld:
        series = obj.get("partOfSeries") or obj.get("isPartOf")
        if isinstance(series, dict) and isinstance(series.get("name"), str):
            return series["name"].strip()
    return None


def _structured_number(doc: Document) -> int | None:
    for obj in doc.jsonld:
        value = obj.get("episodeNumber")
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return int(value)
    for k in ("episode", "number", "episode_number", "itunes_episode"):
        value = doc.meta.get(k, "").strip().lstrip("#")
        if value.isdigit():
            return int(value)
    return None


def _number_near_top(doc: Document) -> int | None:
    """'Episode 118' printed on its own near the top (not in a link or a list)."""
    seen = 0
    for block in doc.blocks:
        if block.region != "main":
            continue
        seen += 1
        if seen > _TOP_BLOCKS:
            break
        if block.links or block.kind in ("item", "row") or len(block.text) > 80:
            continue
        m = _EPISODE_LINE.match(block.text)
        if m:
            return int(m.group(1))
    return None


def _drop_site_suffix(title: str) -> str:
    parts = re.split(r"\s+[|–—·•]\s+", title)
    if len(parts) >= 2 and len(parts[-1]) < len(" ".join(parts[:-1])):
        return " - ".join(parts[:-1]) if len(parts) > 2 else parts[0]
    return title


def _from_lines(lines: list[str], show: str | None) -> Headline:
    """A transcript's title lines: the one with an episode marker, else the first plain one."""
    h = _title_line(lines, show)
    if h.show is None:
        h = Headline(h.title, h.number, h.season, _show_line(lines, h.title))
    return h


def _show_line(lines: list[str], title: str) -> str | None:
    """A short title-case line above the title ("Show Name") names the show."""
    for line in lines[:10]:
        if title and title in line:
            break
        ws = line.split()
        if (
            1 <= len(ws) <= 5
            and all(w[:1].isupper() or not w[:1].isalpha() for w in ws)
            and not _MARKER.search(line)
            and not _META_LINE.match(line)
            and not _NAV.match(line)
        ):
            return line.strip()
    return None


def _title_line(lines: list[str], show: str | None) -> Headline:
    labelled = next((m.group(1) for ln in lines[:10] if (m := _TITLE_LABEL.match(ln))), None)
    if labelled:
        return _split(labelled, show)
    usable = [
        ln
        for ln in lines[:10]
        if not _NAV.match(ln) and not _META_LINE.match(ln) and any(ch.isalpha() for ch in ln)
    ]
    flagged = [
        ln
        for ln in lines[:10]
        if _TRANSCRIPT_WORD.search(ln)
        and not _META_LINE.match(_TRANSCRIPT_WORD.sub("", ln).strip() or "transcript")
    ]
    for i, line in enumerate(usable):
        if not _MARKER.search(line):
            continue
        h = _split(line, show)
        if h.number is None:
            continue
        nxt = usable[i + 1] if i + 1 < len(usable) else ""
        bare = (
            bool(_ONLY_MARKER.match(h.title.strip()))
            or not key(h.title)
            or (bool(h.show) and key(h.title) == key(h.show or ""))
        )
        show_then_marker = bool(_TRAILING_MARKER.search(line)) and _title_like(nxt)
        if not (bare or show_then_marker):
            return h
        # "SHOW — Episode 8" above "The Title": the words before the marker name the show
        title = _split(nxt, show).title if _title_like(nxt) else ""
        return Headline(title, h.number, h.season, h.show or (None if bare else h.title))
    pick = flagged[0] if flagged else (usable[0] if usable else "")
    h = _split(pick, show) if pick else Headline("")
    return h


def _title_like(line: str) -> bool:
    """A short line without a marker that does not read as a sentence."""
    return (
        bool(line)
        and not _MARKER.search(line)
        and len(line) <= 80
        and not line.rstrip().endswith((".", "!", "?"))
    )
