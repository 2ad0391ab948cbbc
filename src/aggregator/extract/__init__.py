"""Pure extraction: documents in, normalised episodes (with people and sponsors) out.

``extract_document`` reads any local feed, page or transcript (the kind is detected) and
returns its episodes; ``enrich_episode`` adds what a feed item's show notes say (sponsors,
guests named in the text, links, chapters) to an episode from ``parse_feed``. No I/O, no
clock: the same bytes always give the same episodes.
"""

from __future__ import annotations

import dataclasses
import html
import re

from aggregator.extract.chapters import chapters_of
from aggregator.extract.dates import published_date
from aggregator.extract.headline import headline
from aggregator.extract.names import brand_at
from aggregator.extract.people import find_people
from aggregator.extract.registry import Brand, SponsorRegistry
from aggregator.extract.selfpromo import find_self_promo
from aggregator.extract.sponsors import SponsorContext, find_sponsors
from aggregator.extract.text import clean_url, host_of, key, long_key
from aggregator.extract.view import DocView
from aggregator.model import Episode, Person, Sponsor
from aggregator.parse.detect import detect_kind
from aggregator.parse.document import Document
from aggregator.parse.html import read_html
from aggregator.parse.markdown import read_markdown
from aggregator.parse.transcript import read_transcript
from aggregator.sanitize import safe_html_words

__all__ = [
    "Brand",
    "SponsorRegistry",
    "enrich_episode",
    "episode_from_document",
    "extract_document",
]

_WELCOME = re.compile(
    r"\b(?i:welcome\s+(?:back\s+)?to|you['’]re\s+listening\s+to|this\s+is)\s+(?:another\s+|"
    r"this\s+week['’]s\s+|today['’]s\s+)?(?:episode\s+of\s+|edition\s+of\s+)?(?:the\s+)?(?=[A-Z])"
)
_NAME_LIST_SEP = re.compile(r"\s*(?:&|\band\b|,)\s*")


def extract_document(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    show: str | None = None,
    url: str | None = None,
    registry: SponsorRegistry | None = None,
    duration: int | None = None,
) -> list[Episode]:
    """Episodes of a feed (one per item), page or transcript (one), fully extracted.

    Raises :class:`aggregator.model.ParseError` only for a document that claims to be a
    feed and is not one; pages and transcripts always give an episode, however thin.
    """
    registry = registry or SponsorRegistry.default()
    kind = detect_kind(data, filename=filename, content_type=content_type)
    if kind == "feed":
        # parse.feed imports extract.titles: importing it at the top would be circular
        from aggregator.parse.feed import parse_feed

        parsed = parse_feed(data, show=show, base_url=url, content_type=content_type)
        site = host_of(parsed.info.link) if parsed.info.link else None
        return [_enrich(ep, registry, site=site) for ep in parsed.episodes]
    if kind == "html":
        doc = read_html(data, url=url)
    elif kind == "markdown":
        doc = read_markdown(data, url=url)
    else:
        doc = read_transcript(data, url=url)
    return [episode_from_document(doc, show=show, registry=registry, duration=duration)]


def episode_from_document(
    doc: Document,
    *,
    show: str | None = None,
    registry: SponsorRegistry | None = None,
    duration: int | None = None,
) -> Episode:
    """One episode from a page, show notes or transcript."""
    registry = registry or SponsorRegistry.default()
    head = headline(doc, show)
    show_name = show or head.show or _show_from_speech(doc)
    people = find_people(doc, title=head.title, show=show_name)
    site = host_of(doc.url) if doc.url else None
    sponsors = _sponsors(doc, show_name, people, site, duration, registry)
    return Episode(
        show=show_name or "",
        title=head.title,
        number=head.number,
        season=head.season,
        published=published_date(doc),
        duration=duration,
        link=doc.url,
        people=people,
        chapters=chapters_of(doc),
        sponsors=sponsors,
        links=_links(doc),
    )


def enrich_episode(ep: Episode, *, registry: SponsorRegistry | None = None) -> Episode:
    """Sponsors, people named in the text, links and chapters from a feed item's notes."""
    return _enrich(
        ep, registry or SponsorRegistry.default(), site=host_of(ep.link) if ep.link else None
    )


def _enrich(ep: Episode, registry: SponsorRegistry, *, site: str | None) -> Episode:
    doc = read_html(_notes(ep), url=ep.link, fragment=True)
    known = _split_hosts(ep.people)
    people = find_people(doc, title=ep.title, known=known, show=ep.show)
    sponsors = _sponsors(doc, ep.show, people, site, ep.duration, registry)
    return dataclasses.replace(
        ep,
        people=people,
        sponsors=sponsors,
        chapters=ep.chapters or chapters_of(doc),
        links=ep.links or _links(doc),
    )


def _notes(ep: Episode) -> str:
    """The show notes, with the short description in front when it says something else
    (feeds often put the sponsor line in the description and the essay in content)."""
    notes = ep.description_html or ""
    summary = (ep.summary or "").strip()
    if summary and key(summary[:120]) not in long_key(safe_html_words(notes)):
        notes = f"<p>{html.escape(summary)}</p>{notes}"
    return notes


def _sponsors(
    doc: Document,
    show: str | None,
    people: tuple[Person, ...],
    site: str | None,
    duration: int | None,
    registry: SponsorRegistry,
) -> tuple[Sponsor, ...]:
    hosts = [p.name for p in people if p.role == "host"]
    guests = [p.name for p in people if p.role == "guest"]
    ctx = SponsorContext(show=show, hosts=hosts, guests=guests, site=site, duration=duration)
    view = DocView(doc)
    paid = find_sponsors(doc, ctx, registry, view)
    own = find_self_promo(doc, show=show, guests=guests, hosts=hosts, site=site, view=view)
    return tuple(paid + own)


def _split_hosts(people: tuple[Person, ...]) -> tuple[Person, ...]:
    """'A & B' as one itunes:author is two hosts."""
    out: list[Person] = []
    for p in people:
        parts = [x for x in _NAME_LIST_SEP.split(p.name) if x.strip()]
        if p.role == "host" and len(parts) > 1 and all(len(x.split()) >= 2 for x in parts):
            out.extend(Person(x.strip(), "host") for x in parts)
        else:
            out.append(p)
    return tuple(out)


def _show_from_speech(doc: Document) -> str | None:
    """'Welcome to X' / "You're listening to X" in the opening of a transcript."""
    for block in doc.blocks[:12]:
        m = _WELCOME.search(block.text)
        if m:
            got = brand_at(block.text, m.end(), min(len(block.text), m.end() + 60))
            if got and len(got[0]) >= 3:
                return got[0]
    return None


def _links(doc: Document) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for block in doc.blocks:
        if block.region != "main":
            continue
        for link in block.links:
            if link.href.startswith(("http://", "https://")):
                seen.setdefault(clean_url(link.href), None)
    return tuple(seen)
