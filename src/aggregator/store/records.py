"""Plain values the store hands out; no ORM object or session ever leaves the package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, NamedTuple

from aggregator.model import Episode

SourceKind = Literal["feed", "page"]
PageTarget = Literal["page", "transcript", "chapters"]
OutboxStatus = Literal["pending", "sending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source row with its show's name (and title and link, for OPML and ``<source>``):
    what the poller needs to fetch and schedule it."""

    id: int
    show: str
    kind: SourceKind
    name: str
    url: str
    original_url: str
    follow_pages: bool
    active: bool
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    next_check_at: datetime | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_failures: int
    muted: bool
    muted_reason: str | None
    ttl_seconds: int | None
    lease_owner: str | None
    lease_until: datetime | None
    avg_post_interval_s: int | None
    created_at: datetime
    show_title: str | None = None  # from the feed's channel, once polled
    show_link: str | None = None


@dataclass(frozen=True, slots=True)
class NotModified:
    """A 304 to record: see :meth:`aggregator.store.Store.record_not_modified_many`."""

    source_id: int
    now: datetime
    next_check_at: datetime
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    added: list[str]  # identity keys
    updated: list[str]
    unchanged: int


@dataclass(frozen=True, slots=True)
class PageWork:
    """An episode whose own page, transcript or chapters file is due for reading."""

    episode_id: int
    show: str
    title: str
    number: int | None
    published: datetime | None
    duration: int | None
    link: str | None
    transcript_url: str | None
    chapters_url: str | None
    page_checked_at: datetime | None
    page_hash: str | None

    def targets(self) -> list[tuple[str, PageTarget]]:
        """URLs to fetch, each once, with the ``source_kind`` to pass to ``merge_page``."""
        found: dict[str, PageTarget] = {}
        if self.link:
            found.setdefault(self.link, "page")
        if self.transcript_url:
            found.setdefault(self.transcript_url, "transcript")
        if self.chapters_url:
            found.setdefault(self.chapters_url, "chapters")
        return list(found.items())


class StoredEpisode(NamedTuple):
    """An episode as stored; a tuple so ``id, episode, first_seen_at = item`` also works.

    ``episode.guid`` is the stable published guid: the source's guid, else the identity key.
    """

    id: int
    episode: Episode
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class SponsorRow:
    """One brand (as sponsor or as a show's self-promotion) across the shows it appears in."""

    brand: str
    kind: str
    shows: tuple[str, ...]
    episodes: int
    mentions: int
    first_seen: date | None  # by episode publication date, UTC
    last_seen: date | None
    promo_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    digest: str
    period: str
    recipient: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """Counts over the active sources, and when some of them last succeeded: what the
    metrics need, without reading every source row on every tick."""

    active: int
    muted: int
    failing: int
    successes: tuple[tuple[str, datetime], ...]  # (source name, last success)
