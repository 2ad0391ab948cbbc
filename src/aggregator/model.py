"""Plain data shared by every step of the flow.

No I/O and no ORM here: parsers produce these, extractors refine them, the store maps
them to tables, and the renderers read them. Everything is frozen so a step cannot
quietly change what an earlier step produced; use ``dataclasses.replace`` instead.
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

SponsorKind = Literal["sponsor", "self_promo"]
Placement = Literal["pre", "mid", "post"]
Role = Literal["host", "guest"]
_T = TypeVar("_T")


def _pickled_as_call(cls: type[_T]) -> type[_T]:
    """Pickle an instance as its class called with its field values. A feed's episodes
    cross from the parse worker to the daemon in one pickle, and the dataclass default
    (a ``__getstate__`` and ``__setstate__`` that look the fields up for every object)
    takes about twice as long to write and to read."""
    dataclass_: Any = cls
    values = operator.attrgetter(*(f.name for f in fields(dataclass_)))

    def __reduce__(self: _T) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, values(self)

    dataclass_.__reduce__ = __reduce__
    return cls


@_pickled_as_call
@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str | None = None
    length: int | None = None


@_pickled_as_call
@dataclass(frozen=True, slots=True)
class Person:
    name: str
    role: Role = "guest"
    href: str | None = None
    img: str | None = None


@_pickled_as_call
@dataclass(frozen=True, slots=True)
class Chapter:
    start: int  # seconds from the episode's start
    title: str
    url: str | None = None


@_pickled_as_call
@dataclass(frozen=True, slots=True)
class Sponsor:
    """One brand's paid read (or the show's own promotion) in one episode, mentions merged."""

    name: str
    url: str | None = None
    promo_code: str | None = None
    offer: str | None = None
    start: int | None = None
    placement: Placement | None = None
    kind: SponsorKind = "sponsor"
    evidence: str | None = None
    confidence: float = 0.5


@_pickled_as_call
@dataclass(frozen=True, slots=True)
class Episode:
    """An episode as one source describes it, normalised.

    ``published`` keeps the offset the source gave (so the date in the source's own time
    zone can be shown); the store converts it to UTC.
    """

    show: str
    title: str
    guid: str | None = None
    number: int | None = None
    season: int | None = None
    published: datetime | None = None
    duration: int | None = None  # seconds
    link: str | None = None
    enclosure: Enclosure | None = None
    image: str | None = None
    description_html: str | None = None  # sanitised
    summary: str | None = None  # plain text
    explicit: bool | None = None
    people: tuple[Person, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    chapters_url: str | None = None
    sponsors: tuple[Sponsor, ...] = ()
    links: tuple[str, ...] = ()
    transcript_url: str | None = None
    transcript_type: str | None = None

    @property
    def hosts(self) -> list[str]:
        return [p.name for p in self.people if p.role == "host"]

    @property
    def guests(self) -> list[str]:
        return [p.name for p in self.people if p.role == "guest"]

    def as_json(self) -> dict[str, Any]:
        """The ``aggregator extract`` JSON shape of DESIGN.md."""
        return {
            "show": self.show,
            "title": self.title,
            "guid": self.guid,
            "number": self.number,
            "season": self.season,
            "published": self.published.date().isoformat() if self.published else None,
            "duration": self.duration,
            "link": self.link,
            "enclosure": (
                {
                    "url": self.enclosure.url,
                    "type": self.enclosure.type,
                    "length": self.enclosure.length,
                }
                if self.enclosure
                else None
            ),
            "hosts": self.hosts,
            "guests": self.guests,
            "chapters": [{"start": c.start, "title": c.title} for c in self.chapters],
            "sponsors": [asdict(s) for s in self.sponsors],
            "links": list(self.links),
            "transcript_url": self.transcript_url,
        }


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """Channel-level facts of a feed that scheduling and publishing use."""

    title: str | None = None
    link: str | None = None
    description: str | None = None
    image: str | None = None
    author: str | None = None
    language: str | None = None
    ttl_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    info: FeedInfo
    episodes: tuple[Episode, ...]
    warnings: tuple[str, ...] = field(default=())


class ParseError(ValueError):
    """Input that cannot be read as the kind of document it claims to be."""
