"""Episode identity, canonical shape and merging across sources. Pure.

Every parser ends with :func:`normalise`, so a feed, a page and a transcript describe an
episode in the same canonical shape; :func:`identity_key` then recognises it across polls
and :func:`merge` lets a page or transcript fill in what the feed left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from aggregator.model import Chapter, Enclosure, Episode, Person, Sponsor
from aggregator.sanitize import clean_text, shorten

MAX_KEY_LENGTH = 512
# Domains that many unrelated brands link through (shorteners, redirectors, platforms):
# sharing one of them says nothing about two sponsors being the same brand.
SHARED_DOMAINS = frozenset(
    {
        *("bit.ly", "geni.us", "lnk.to", "linktr.ee", "amzn.to", "apple.co", "youtu.be", "t.co"),
        *("tinyurl.com", "ow.ly", "buff.ly", "rebrand.ly", "lnkd.in", "goo.gl", "fb.me"),
        *("podtrac.com", "chtbl.com", "pdst.fm", "pod.link", "spoti.fi", "podsights.com"),
        *("apple.com", "spotify.com", "youtube.com", "google.com", "amazon.com", "github.com"),
        *("twitter.com", "x.com", "facebook.com", "instagram.com", "linkedin.com"),
        *("medium.com", "substack.com", "patreon.com"),
    }
)
_NON_WORD = re.compile(r"[\W_]+")
_HOST = re.compile(r"(?:[\w-]+\.)+[\w-]+")


def to_utc(dt: datetime) -> datetime:
    """Aware UTC; a naive value is taken to be UTC already (that is what feeds mean by it)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def identity_key(ep: Episode) -> str:
    """The key that recognises an episode across polls: guid, else enclosure URL, else link,
    else show + title + publication day, prefixed by which was used (``guid:``, ``enc:``,
    ``link:``, ``title:``). Keys longer than MAX_KEY_LENGTH are hashed."""
    if ep.guid and ep.guid.strip():
        return _key("guid", ep.guid.strip())
    if ep.enclosure and ep.enclosure.url.strip():
        return _key("enc", ep.enclosure.url.strip())
    if ep.link and ep.link.strip():
        return _key("link", ep.link.strip())
    # The day in the source's own offset, so a page that gives only a date still matches.
    day = ep.published.date().isoformat() if ep.published else ""
    return _key("title", f"{_fold(ep.show)}|{_fold(ep.title)}|{day}")


def _key(kind: str, value: str) -> str:
    key = f"{kind}:{value}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{kind}:sha256:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}"


def _fold(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", clean_text(text).casefold()).split())


def content_hash(ep: Episode) -> str:
    """sha256 of every field in canonical JSON: equal hashes mean "unchanged"."""
    payload = json.dumps(
        _plain(ep),
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
        default=_json_default,
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` without its deep copies (most of a feed's store time): the
    same JSON, so hashes stay comparable with those already stored."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is tuple or kind is list:
        return [_plain(v) for v in value]
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


_ATOMS = frozenset({str, int, float, bool, type(None), datetime})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _json_default(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash a {type(value).__name__}")


MAX_TITLE = 500  # characters; a longer "title" is a broken or hostile feed, not a title
FUTURE_SLACK = timedelta(days=1)  # time zones and clock skew, no more


def believable_dates(ep: Episode, now: datetime) -> Episode:
    """A publication date beyond tomorrow is a feed's mistake: believed, it would top the
    merged feed for years. The episode is kept, undated."""
    if ep.published is not None and to_utc(ep.published) > now + FUTURE_SLACK:
        return dataclasses.replace(ep, published=None)
    return ep


def normalise(ep: Episode) -> Episode:
    """The canonical shape: clean text, no empty strings, people/links/sponsors each once,
    chapters in start order. Idempotent."""
    enclosure = ep.enclosure
    if enclosure is not None:
        url = enclosure.url.strip()
        length = enclosure.length if enclosure.length and enclosure.length > 0 else None
        enclosure = Enclosure(url, _opt(enclosure.type), length) if url else None
    return dataclasses.replace(
        ep,
        show=clean_text(ep.show),
        title=shorten(clean_text(ep.title), MAX_TITLE),
        guid=_opt(ep.guid),
        number=ep.number if ep.number is not None and ep.number >= 0 else None,
        season=ep.season if ep.season is not None and ep.season >= 0 else None,
        duration=ep.duration if ep.duration and ep.duration > 0 else None,
        link=_opt(ep.link),
        enclosure=enclosure,
        image=_opt(ep.image),
        description_html=_opt(ep.description_html),
        summary=_opt(ep.summary),
        people=unique_people(ep.people),
        chapters=ordered_chapters(ep.chapters),
        chapters_url=_opt(ep.chapters_url),
        sponsors=merge_sponsors(ep.sponsors),
        links=tuple(dict.fromkeys(u.strip() for u in ep.links if u.strip())),
        transcript_url=_opt(ep.transcript_url),
        transcript_type=_opt(ep.transcript_type),
    )


def _opt(value: str | None) -> str | None:
    return value.strip() or None if value else None


def unique_people(people: Iterable[Person]) -> tuple[Person, ...]:
    """Each person once (by casefolded name); the first mention's role wins, later ones
    fill in a missing href or img."""
    found: dict[str, Person] = {}
    for person in people:
        name = clean_text(person.name)
        if not name:
            continue
        key = name.casefold()
        seen = found.get(key)
        if seen is None:
            found[key] = person if name == person.name else dataclasses.replace(person, name=name)
        else:
            found[key] = dataclasses.replace(
                seen, href=seen.href or person.href, img=seen.img or person.img
            )
    return tuple(found.values())


def ordered_chapters(chapters: Iterable[Chapter]) -> tuple[Chapter, ...]:
    """Chapters by start (stable), without blanks or repeats of the same start and title."""
    seen: set[tuple[int, str]] = set()
    found = []
    for chapter in sorted(chapters, key=lambda c: c.start):
        title = clean_text(chapter.title)
        key = (chapter.start, title.casefold())
        if chapter.start < 0 or not title or key in seen:
            continue
        seen.add(key)
        found.append(
            chapter if title == chapter.title else dataclasses.replace(chapter, title=title)
        )
    return tuple(found)


def merge_sponsors(sponsors: Iterable[Sponsor]) -> tuple[Sponsor, ...]:
    """Each brand once: mentions with the same casefolded name or the same registrable domain
    are combined (details filled in, earliest start, highest confidence), the first
    mention's name and kind kept. Repeated until stable, since a combined mention can
    match one it did not match before."""
    groups = [_named(s, clean_text(s.name)) for s in sponsors]
    groups = [s for s in groups if s.name]
    while True:
        merged: list[Sponsor] = []
        for sponsor in groups:
            for i, group in enumerate(merged):
                if same_brand(group, sponsor):
                    merged[i] = _combine(group, sponsor)
                    break
            else:
                merged.append(sponsor)
        if len(merged) == len(groups):
            return tuple(merged)
        groups = merged


def _named(sponsor: Sponsor, name: str) -> Sponsor:
    return sponsor if name == sponsor.name else dataclasses.replace(sponsor, name=name)


def same_brand(a: Sponsor, b: Sponsor) -> bool:
    if a.name.casefold() == b.name.casefold():
        return True
    domain = registrable_domain(a.url)
    return (
        domain is not None and domain not in SHARED_DOMAINS and domain == registrable_domain(b.url)
    )


def _combine(a: Sponsor, b: Sponsor) -> Sponsor:
    starts = [s for s in (a.start, b.start) if s is not None]
    return dataclasses.replace(
        a,
        url=a.url or b.url,
        promo_code=a.promo_code or b.promo_code,
        offer=a.offer or b.offer,
        start=min(starts) if starts else None,
        placement=a.placement or b.placement,
        evidence=a.evidence or b.evidence,
        confidence=max(a.confidence, b.confidence),
    )


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list ships with the package: no network


@lru_cache(maxsize=4096)
def registrable_domain(url: str | None) -> str | None:
    """The domain a brand registers: ``example.co.uk`` for https://www.shop.example.co.uk/x;
    an IP address stands for itself; None without a usable host."""
    if not url:
        return None
    url = url.strip()
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOST.fullmatch(host):
        return None
    return _suffixes().privatesuffix(host)


def merge(primary: Episode, other: Episode) -> Episode:
    """``primary`` (usually the feed) with what it lacks taken from ``other`` (a page, a
    transcript): empty fields filled, people and links united, chapters from whichever
    has them, sponsors combined by brand."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Episode):
        mine, theirs = getattr(primary, f.name), getattr(other, f.name)
        if f.name in ("people", "sponsors", "links"):
            values[f.name] = mine + theirs  # normalise() unites them, primary first
        else:
            values[f.name] = theirs if mine is None or mine == "" or mine == () else mine
    return normalise(Episode(**values))
