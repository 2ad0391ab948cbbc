"""The store's public face: every method is one short transaction on a pooled connection.

Nothing here keeps a session or connection between calls, so one ``Store`` can be shared
by the threads ``asyncio.to_thread`` runs it on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timedelta
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from aggregator.config import Settings
from aggregator.model import Episode, FeedInfo
from aggregator.store import episodes as episode_writes
from aggregator.store import leases, outbox, reading, reports, sources
from aggregator.store.engine import WRITE, make_engine, url_for_logs
from aggregator.store.migrate import upgrade
from aggregator.store.records import (
    NotModified,
    OutboxRow,
    PageWork,
    SourceHealth,
    SourceState,
    SponsorRow,
    StoredEpisode,
    UpsertResult,
)

log = logging.getLogger(__name__)

R = TypeVar("R")


class Store:
    def __init__(self, url: str) -> None:
        """Create the engine (and a SQLite file's directory); does not migrate."""
        self.url_for_logs = url_for_logs(url)
        self._engine = make_engine(url)
        self._writer = self._engine.execution_options(**WRITE)
        # SQLite takes one writer at a time, and a connection waiting for the lock sleeps in
        # SQLite's busy handler for up to 100 ms between tries. Threads of this process queue
        # on a lock that wakes the next one at once; other processes still meet the busy
        # timeout. PostgreSQL writes concurrently.
        self._one_writer: AbstractContextManager[object] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else nullcontext()
        )

    def _write(self, fn: Callable[..., R], *args: object, **kwargs: object) -> R:
        with self._one_writer, self._writer.begin() as conn:
            return fn(conn, *args, **kwargs)

    def _write_retrying(self, fn: Callable[..., R], *args: object, **kwargs: object) -> R:
        """Once more when another instance inserted the same new row between our read and
        our insert; the second attempt sees that row and updates it instead."""
        try:
            return self._write(fn, *args, **kwargs)
        except IntegrityError as exc:
            log.info("write raced with another instance, retrying: %s", exc.orig)
            return self._write(fn, *args, **kwargs)

    def _read(self, fn: Callable[..., R], *args: object, **kwargs: object) -> R:
        with self._engine.connect() as conn:
            return fn(conn, *args, **kwargs)

    # lifecycle

    def upgrade(self) -> None:
        """Alembic upgrade to head; idempotent and safe when processes race."""
        upgrade(self._engine)

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self._engine.dispose()

    # sources

    def sync_sources(self, settings: Settings, now: datetime) -> None:
        self._write_retrying(sources.sync_sources, settings, now)

    def due_sources(
        self,
        now: datetime,
        *,
        limit: int = 1000,
        owner: str | None = None,
        lease: timedelta | None = None,
    ) -> list[SourceState]:
        """Due sources, oldest due first; given ``owner`` and ``lease``, claimed atomically."""
        run = self._write if owner is not None and lease is not None else self._read
        return run(sources.due_sources, now, limit=limit, owner=owner, lease=lease)

    def renew_leases(self, ids: Sequence[int], owner: str, *, until: datetime) -> int:
        """Extend ``owner``'s leases on the sources of ``ids`` it still holds."""
        return self._write(sources.renew_leases, ids, owner, until)

    def all_sources(self) -> list[SourceState]:
        return self._read(sources.all_sources)

    def feed_urls(self) -> list[tuple[str, str]]:
        return self._read(sources.feed_urls)

    def source_health(self, since: datetime | None = None) -> SourceHealth:
        return self._read(sources.source_health, since)

    def record_not_modified(
        self,
        source_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        self._write(
            sources.record_not_modified,
            source_id,
            now=now,
            next_check_at=next_check_at,
            etag=etag,
            last_modified=last_modified,
        )

    def record_not_modified_many(self, rows: Sequence[NotModified]) -> None:
        """Several 304s in one transaction (the poller batches them)."""
        if rows:
            self._write(sources.record_not_modified_many, rows)

    def record_failure(
        self,
        source_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        error: str,
        status: int | None,
        gone: bool = False,
        count: bool = True,
    ) -> None:
        """``count=False`` records the error without growing the failure streak (the host's
        network was down, not the feed)."""
        self._write(
            sources.record_failure,
            source_id,
            now=now,
            next_check_at=next_check_at,
            error=error,
            status=status,
            gone=gone,
            count=count,
        )

    def record_success(
        self,
        source_id: int,
        *,
        now: datetime,
        next_check_at: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        content_hash: str | None = None,
        url: str | None = None,
        ttl_seconds: int | None = None,
        show_info: FeedInfo | None = None,
        avg_post_interval_s: int | None = None,
        item_index: bytes | None = None,
    ) -> None:
        """``item_index``: None keeps the stored one, ``b""`` clears it."""
        self._write(
            sources.record_success,
            source_id,
            now=now,
            next_check_at=next_check_at,
            etag=etag,
            last_modified=last_modified,
            content_hash=content_hash,
            url=url,
            ttl_seconds=ttl_seconds,
            show_info=show_info,
            avg_post_interval_s=avg_post_interval_s,
            item_index=item_index,
        )

    def item_index(self, source_id: int) -> bytes | None:
        """Digests of the source's items as last stored (see :mod:`aggregator.incremental`)."""
        return self._read(sources.item_index, source_id)

    # episodes

    def upsert_episodes(
        self,
        source_id: int,
        episodes: Sequence[Episode],
        *,
        now: datetime,
        source_kind: str = "feed",
    ) -> UpsertResult:
        return self._write_retrying(
            episode_writes.upsert_episodes, source_id, episodes, now=now, source_kind=source_kind
        )

    def merge_page(
        self, episode_id: int, page: Episode, *, now: datetime, source_kind: str
    ) -> bool:
        """Fill a stored episode from a page, transcript or chapters reading; True if changed."""
        return self._write_retrying(
            episode_writes.fill_episode, episode_id, page, now=now, source_kind=source_kind
        )

    def find_episode(
        self,
        show: str,
        *,
        link: str | None = None,
        number: int | None = None,
        title: str | None = None,
        published: date | None = None,
    ) -> int | None:
        return self._read(
            episode_writes.find_episode,
            show,
            link=link,
            number=number,
            title=title,
            published=published,
        )

    def episodes_needing_pages(
        self, show: str, *, now: datetime, recheck: timedelta, limit: int = 50
    ) -> list[PageWork]:
        return self._read(
            episode_writes.episodes_needing_pages, show, now=now, recheck=recheck, limit=limit
        )

    def mark_page_checked(self, episode_id: int, *, now: datetime, page_hash: str | None) -> None:
        self._write(episode_writes.mark_page_checked, episode_id, now=now, page_hash=page_hash)

    def latest_episodes(self, limit: int) -> list[StoredEpisode]:
        return self._read(reading.latest_episodes, limit)

    def episodes_between(
        self, start: datetime, end: datetime, *, shows: Sequence[str] | None = None
    ) -> list[StoredEpisode]:
        return self._read(reading.episodes_between, start, end, shows=shows)

    def episode_count(self) -> int:
        return self._read(reading.episode_count)

    def sponsor_report(
        self, *, since: date | None = None, show: str | None = None
    ) -> list[SponsorRow]:
        return self._read(reports.sponsor_report, since=since, show=show)

    # digests

    def digest_watermark(self, name: str) -> datetime | None:
        return self._read(outbox.digest_watermark, name)

    def set_digest_watermark(self, name: str, watermark: datetime, *, now: datetime) -> None:
        self._write(outbox.set_digest_watermark, name, watermark, now=now)

    def enqueue_digest(
        self,
        name: str,
        period: str,
        payloads: Mapping[str, bytes],
        *,
        watermark: datetime,
        now: datetime,
    ) -> int:
        """One transaction: queue a message per new recipient and advance the watermark."""
        return self._write(
            outbox.enqueue_digest, name, period, payloads, watermark=watermark, now=now
        )

    def outbox_add(
        self, digest: str, period: str, recipient: str, payload: bytes, *, now: datetime
    ) -> bool:
        return self._write(outbox.outbox_add, digest, period, recipient, payload, now=now)

    def outbox_due(self, now: datetime) -> list[OutboxRow]:
        return self._read(outbox.outbox_due, now)

    def outbox_rows(self, digest: str | None = None) -> list[OutboxRow]:
        return self._read(outbox.outbox_rows, digest)

    def outbox_mark(
        self,
        outbox_id: int,
        *,
        status: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        message_id: str | None = None,
        expect_attempts: int | None = None,
    ) -> bool:
        return self._write(
            outbox.outbox_mark,
            outbox_id,
            status=status,
            now=now,
            error=error,
            next_attempt_at=next_attempt_at,
            message_id=message_id,
            expect_attempts=expect_attempts,
        )

    # singleton jobs

    def try_lease(self, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
        return self._write(leases.try_lease, name, owner, now=now, ttl=ttl)

    def release_lease(self, name: str, owner: str) -> None:
        self._write(leases.release_lease, name, owner)
