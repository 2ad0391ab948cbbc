"""One source end to end: state -> fetch -> parse -> extract -> store.

The coordinator is the only module that knows several steps. It owns no clock and no
scheduler: ``now`` and the executor for CPU-bound parsing are handed in, so ``poll --once``,
the daemon and the tests drive exactly the same code.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Literal

from aggregator.config import Settings
from aggregator.extract import SponsorRegistry, extract_document
from aggregator.fetch import Fetcher, FetchError, FetchResult
from aggregator.incremental import FeedReading, read_feed
from aggregator.model import Episode, ParseError
from aggregator.normalise import believable_dates
from aggregator.parse.feed import parse_chapters_json
from aggregator.schedule import Bounds, median_gap, next_check
from aggregator.store import NotModified, SourceState, Store
from aggregator.writebatch import WriteBatch

log = logging.getLogger(__name__)

Status = Literal["added", "updated", "unchanged", "not_modified", "failed"]

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)
PAGE_ACCEPT = "text/html, text/markdown;q=0.9, text/plain;q=0.8, */*;q=0.1"


@dataclass(frozen=True, slots=True)
class PollOutcome:
    source: str
    status: Status
    added: int = 0
    updated: int = 0
    error: str | None = None
    network: bool = False  # the failure says nothing about the feed itself (DNS, refused, ...)
    fetch_seconds: float | None = None  # for metrics; None when no request was made
    fetched_bytes: int = 0

    @property
    def changed(self) -> bool:
        return self.added > 0 or self.updated > 0


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bounds_of(settings: Settings) -> Bounds:
    p = settings.poll
    return Bounds(default=p.interval, minimum=p.min_interval, maximum=p.max_interval)


class _Slot:
    """One of ``poll.concurrency`` places, given back at the latest when the poll ends.

    A 304 gives it back early: its batched write waits up to ``WriteBatch``'s delay with
    nothing of the source in memory, and holding the place would idle the fetcher.
    """

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = False

    async def __aenter__(self) -> _Slot:
        await self._places.acquire()
        self._held = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._held:
            self._held = False
            self._places.release()


class Updater:
    """Polls sources and keeps the store in step with them."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        settings: Settings,
        *,
        registry: SponsorRegistry,
        clock: Callable[[], datetime],
        executor: Executor | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.executor = executor
        self.rng = rng or random.Random()
        self.bounds = bounds_of(settings)
        # 304s arrive by the hundred in a steady-state poll: one transaction for each batch.
        self._not_modified = WriteBatch(store.record_not_modified_many)
        self._in_flight: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        # Sources that failed for network reasons since any server last answered: when
        # several did, the host's network is down and none of them is to blame.
        self._network_failures: set[int] = set()
        self.offline = False

    def _server_answered(self) -> None:
        self._network_failures.clear()
        if self.offline:
            self.offline = False
            log.info("network is back: a server answered")

    async def _run_cpu(self, fn: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _db(self, fn: Callable[..., object], *args: object, **kwargs: object) -> object:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _next(
        self,
        src: SourceState,
        *,
        failures: int = 0,
        result: FetchResult | None = None,
        ttl: timedelta | None = None,
        retry_after: datetime | None = None,
        gap: timedelta | None = None,
    ) -> datetime:
        if gap is None and src.avg_post_interval_s:
            gap = timedelta(seconds=src.avg_post_interval_s)
        max_age = timedelta(seconds=result.max_age) if result and result.max_age else None
        if ttl is None and src.ttl_seconds:
            ttl = timedelta(seconds=src.ttl_seconds)
        return next_check(
            self.clock(),
            bounds=self.bounds,
            gap=gap,
            ttl=ttl,
            max_age=max_age,
            retry_after=retry_after,
            failures=failures,
            rng=self.rng,
        )

    def _slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._in_flight is None or self._in_flight[0] is not loop:
            self._in_flight = (loop, asyncio.Semaphore(self.settings.poll.concurrency))
        return self._in_flight[1]

    async def poll_source(
        self, src: SourceState, *, deferred: list[tuple[SourceState, FetchError]] | None = None
    ) -> PollOutcome:
        """Fetch and store one source. Never raises for a bad feed: the outcome says why.

        With ``deferred``, network failures are collected there instead of recorded, so the
        caller can decide whether they count against the source.

        At most ``poll.concurrency`` sources are between fetch and stored at once: parsing is
        slower than fetching, and bodies fetched ahead of the parsers would only wait in
        memory (a claimed batch of 1 MB feeds is a few hundred MB).
        """
        async with _Slot(self._slots()) as slot:
            return await self._poll_source(src, deferred, slot)

    async def _poll_source(
        self,
        src: SourceState,
        deferred: list[tuple[SourceState, FetchError]] | None,
        slot: _Slot,
    ) -> PollOutcome:
        accept = FEED_ACCEPT if src.kind == "feed" else PAGE_ACCEPT
        started = time.monotonic()
        try:
            result = await self.fetcher.fetch(
                src.url, etag=src.etag, last_modified=src.last_modified, accept=accept
            )
        except FetchError as exc:
            spent = time.monotonic() - started
            if exc.status is None:
                self._network_failures.add(src.id)
            else:
                self._server_answered()
            if deferred is not None and exc.status is None:
                deferred.append((src, exc))
                return PollOutcome(
                    src.name, "failed", error=exc.reason, network=True, fetch_seconds=spent
                )
            outcome = await self._fetch_failed(src, exc, penalise=True)
            return replace(outcome, fetch_seconds=spent)
        self._server_answered()
        try:
            outcome = await self._process(src, result, slot)
        except Exception as exc:  # a bug or a dead worker must cost one source, not the poll
            log.exception("source crashed the parser source=%s", src.name)
            outcome = await self._failed(src, f"internal error: {exc.__class__.__name__}: {exc}")
        return replace(outcome, fetch_seconds=result.elapsed, fetched_bytes=result.raw_bytes)

    async def _fetch_failed(
        self, src: SourceState, exc: FetchError, *, penalise: bool
    ) -> PollOutcome:
        return await self._failed(
            src,
            exc.reason,
            status=exc.status,
            gone=exc.gone,
            retry_after=exc.retry_after,
            network=exc.status is None,
            penalise=penalise,
        )

    async def _process(self, src: SourceState, result: FetchResult, slot: _Slot) -> PollOutcome:
        now = self.clock()
        if result.not_modified and result.permanent_redirect:
            # Moved, and the new place answers 304 to our validators: keep the new URL.
            await self._db(
                self.store.record_success,
                src.id,
                now=now,
                next_check_at=self._next(src, result=result),
                etag=result.etag,
                last_modified=result.last_modified,
                url=result.permanent_redirect,
            )
            log.info(
                "source moved permanently source=%s url=%s", src.name, result.permanent_redirect
            )
            return PollOutcome(src.name, "not_modified")
        if result.not_modified:
            if not src.follow_pages:
                slot.release()  # nothing of it is in memory while its batched write waits
            await self._not_modified.add(
                NotModified(
                    src.id,
                    now=now,
                    next_check_at=self._next(src, result=result),
                    etag=result.etag,
                    last_modified=result.last_modified,
                )
            )
            log.debug("not modified source=%s", src.name)
            if src.follow_pages:  # pages still come due on their own, slower schedule
                await self.follow_pages(src)
            return PollOutcome(src.name, "not_modified")
        body = result.content or b""
        digest = _digest(body)
        new_url = result.permanent_redirect
        if digest == src.content_hash and not new_url:
            await self._db(
                self.store.record_success,
                src.id,
                now=now,
                next_check_at=self._next(src, result=result),
                etag=result.etag,
                last_modified=result.last_modified,
                content_hash=digest,
            )
            if src.follow_pages:
                await self.follow_pages(src)
            return PollOutcome(src.name, "unchanged")
        try:
            index = None
            if src.kind == "feed":
                outcome, gap, ttl, info, index = await self._store_feed(src, result)
            else:
                outcome, gap, ttl, info = await self._store_page(src, result), None, None, None
        except ParseError as exc:
            return await self._failed(src, f"not a usable document: {exc}", status=result.status)
        await self._db(
            self.store.record_success,
            src.id,
            now=self.clock(),
            next_check_at=self._next(src, result=result, gap=gap, ttl=ttl),
            etag=result.etag,
            last_modified=result.last_modified,
            content_hash=digest,
            url=new_url,
            ttl_seconds=int(ttl.total_seconds()) if ttl else None,
            show_info=info,
            avg_post_interval_s=int(gap.total_seconds()) if gap else None,
            item_index=index,
        )
        if new_url:
            log.info("source moved permanently source=%s url=%s", src.name, new_url)
        log.info(
            "source polled source=%s status=%s added=%d updated=%d",
            src.name,
            outcome.status,
            outcome.added,
            outcome.updated,
        )
        return outcome

    async def _failed(
        self,
        src: SourceState,
        reason: str,
        *,
        status: int | None = None,
        gone: bool = False,
        retry_after: datetime | None = None,
        network: bool = False,
        penalise: bool = True,
    ) -> PollOutcome:
        failures = src.consecutive_failures + 1 if penalise else src.consecutive_failures
        await self._db(
            self.store.record_failure,
            src.id,
            now=self.clock(),
            next_check_at=self._next(src, failures=failures, retry_after=retry_after),
            error=reason,
            status=status,
            gone=gone,
            count=penalise,
        )
        if gone:
            log.warning("source gone, muted source=%s url=%s reason=%s", src.name, src.url, reason)
        else:
            log.warning("source failed source=%s url=%s reason=%s", src.name, src.url, reason)
        return PollOutcome(src.name, "failed", error=reason, network=network)

    async def _store_feed(
        self, src: SourceState, result: FetchResult
    ) -> tuple[PollOutcome, timedelta | None, timedelta | None, object, bytes]:
        """Only the items the source's item index does not know are parsed and stored."""
        reading = await self._run_cpu(
            read_feed,
            result.content or b"",
            src.show,
            result.url,
            result.content_type,
            self.registry,
            await self._db(self.store.item_index, src.id),
        )
        assert isinstance(reading, FeedReading)
        parsed = reading.parsed
        for warning in parsed.warnings:
            log.debug("feed warning source=%s: %s", src.name, warning)
        now = self.clock()
        upsert = await self._db(
            self.store.upsert_episodes,
            src.id,
            [believable_dates(ep, now) for ep in parsed.episodes],
            now=now,
            source_kind="feed",
        )
        added, updated = len(upsert.added), len(upsert.updated)
        # One line per new episode, except for a source's first import (its whole back
        # catalogue), which the "source polled" line sums up.
        level = logging.INFO if src.last_success_at is not None else logging.DEBUG
        for key in upsert.added[:50]:
            log.log(level, "episode added source=%s key=%s", src.name, key)
        status: Status = "added" if added else ("updated" if updated else "unchanged")
        gap = median_gap(reading.published)
        ttl = (
            timedelta(minutes=parsed.info.ttl_minutes)
            if parsed.info.ttl_minutes and parsed.info.ttl_minutes > 0
            else None
        )
        if src.follow_pages and (added or updated):
            await self.follow_pages(src)
        outcome = PollOutcome(src.name, status, added=added, updated=updated)
        return outcome, gap, ttl, parsed.info, reading.index

    async def _store_page(self, src: SourceState, result: FetchResult) -> PollOutcome:
        episodes = await self._run_cpu(
            partial(
                extract_document,
                result.content or b"",
                show=src.show,
                url=result.url,
                content_type=result.content_type,
                registry=self.registry,
            )
        )
        assert isinstance(episodes, list)
        added = updated = 0
        for ep in episodes:
            ep = replace(ep, link=ep.link or result.url)
            found = await self._db(
                self.store.find_episode,
                src.show,
                link=ep.link,
                number=ep.number,
                title=ep.title,
                published=ep.published.date() if ep.published else None,
            )
            if found is not None:
                changed = await self._db(
                    self.store.merge_page, found, ep, now=self.clock(), source_kind="page"
                )
                updated += int(bool(changed))
            else:
                now = self.clock()
                upsert = await self._db(
                    self.store.upsert_episodes,
                    src.id,
                    [believable_dates(ep, now)],
                    now=now,
                    source_kind="page",
                )
                added += len(upsert.added)
                updated += len(upsert.updated)
        status: Status = "added" if added else ("updated" if updated else "unchanged")
        return PollOutcome(src.name, status, added=added, updated=updated)

    async def follow_pages(self, src: SourceState) -> int:
        """Read the episode pages, transcripts and chapter files a feed links to.

        Each is fetched with the same rules as feeds; a failure is logged and retried on the
        slow page schedule, and never affects the feed's own state.
        """
        work = await self._db(
            self.store.episodes_needing_pages,
            src.show,
            now=self.clock(),
            recheck=self.settings.poll.page_interval,
        )
        changed = 0

        async def one(item: object) -> None:
            nonlocal changed
            hashes: list[str] = []
            for url, kind in item.targets():  # type: ignore[attr-defined]
                try:
                    result = await self.fetcher.fetch(url, accept=PAGE_ACCEPT)
                except FetchError as exc:
                    log.warning("page failed source=%s url=%s reason=%s", src.name, url, exc.reason)
                    continue
                body = result.content or b""
                hashes.append(_digest(body))
                try:
                    if kind == "chapters":
                        chapters = await self._run_cpu(parse_chapters_json, body)
                        page = Episode(show=src.show, title="", chapters=chapters)  # type: ignore[arg-type]
                    else:
                        pages = await self._run_cpu(
                            partial(
                                extract_document,
                                body,
                                show=src.show,
                                url=result.url,
                                content_type=result.content_type,
                                registry=self.registry,
                                duration=item.duration,  # type: ignore[attr-defined]
                            )
                        )
                        if not pages:
                            continue
                        page = pages[0]  # type: ignore[index]
                except ParseError as exc:
                    log.warning("page unreadable source=%s url=%s reason=%s", src.name, url, exc)
                    continue
                if await self._db(
                    self.store.merge_page,
                    item.episode_id,
                    page,  # type: ignore[attr-defined]
                    now=self.clock(),
                    source_kind=kind,
                ):
                    changed += 1
            await self._db(
                self.store.mark_page_checked,
                item.episode_id,
                now=self.clock(),  # type: ignore[attr-defined]
                page_hash=_digest("".join(hashes).encode()) if hashes else None,
            )

        await asyncio.gather(*(one(item) for item in work))
        return changed

    async def poll_many(self, sources: Sequence[SourceState]) -> list[PollOutcome]:
        """Poll sources concurrently (the fetcher enforces the limits).

        When every source of a poll fails for network reasons and, counting earlier polls
        since a server last answered, more than one source did, the host's network is down,
        not the feeds: the failures are recorded without counting towards backoff. (The
        first source to fail alone at the start of an outage cannot be told from a dead
        host and is counted once.)
        """
        if not sources:
            return []
        deferred: list[tuple[SourceState, FetchError]] = []
        outcomes = list(
            await asyncio.gather(*(self.poll_source(s, deferred=deferred) for s in sources))
        )
        network_down = len(deferred) == len(sources) and len(self._network_failures) > 1
        if network_down and not self.offline:
            self.offline = True
            log.warning(
                "network looks down: %d sources failed for network reasons in a row; "
                "not counting it against them",
                len(self._network_failures),
            )
        await asyncio.gather(
            *(self._fetch_failed(src, exc, penalise=not network_down) for src, exc in deferred)
        )
        return outcomes
