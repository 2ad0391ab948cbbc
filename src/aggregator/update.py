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
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from aggregator.config import Settings
from aggregator.extract import SponsorRegistry, enrich_episode, extract_document
from aggregator.fetch import Fetcher, FetchError, FetchResult
from aggregator.model import Episode, ParsedFeed, ParseError
from aggregator.parse.feed import parse_chapters_json, parse_feed
from aggregator.schedule import Bounds, median_gap, next_check
from aggregator.store import SourceState, Store

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

    @property
    def changed(self) -> bool:
        return self.added > 0 or self.updated > 0


def parse_feed_document(
    data: bytes, show: str, url: str, content_type: str | None, registry: SponsorRegistry
) -> ParsedFeed:
    """CPU-bound step run in the executor: feedparser, then extraction on each item's notes."""
    parsed = parse_feed(data, show=show, base_url=url, content_type=content_type)
    episodes = tuple(enrich_episode(ep, registry=registry) for ep in parsed.episodes)
    return replace(parsed, episodes=episodes)


def parse_page_document(
    data: bytes,
    show: str,
    url: str,
    content_type: str | None,
    registry: SponsorRegistry,
    duration: int | None,
) -> list[Episode]:
    return extract_document(
        data, content_type=content_type, show=show, url=url, registry=registry, duration=duration
    )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bounds_of(settings: Settings) -> Bounds:
    p = settings.poll
    return Bounds(default=p.interval, minimum=p.min_interval, maximum=p.max_interval)


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

    async def poll_source(
        self, src: SourceState, *, deferred: list[tuple[SourceState, FetchError]] | None = None
    ) -> PollOutcome:
        """Fetch and store one source. Never raises for a bad feed: the outcome says why.

        With ``deferred``, network failures are collected there instead of recorded, so the
        caller can decide whether they count against the source.
        """
        accept = FEED_ACCEPT if src.kind == "feed" else PAGE_ACCEPT
        try:
            result = await self.fetcher.fetch(
                src.url, etag=src.etag, last_modified=src.last_modified, accept=accept
            )
        except FetchError as exc:
            if deferred is not None and exc.status is None:
                deferred.append((src, exc))
                return PollOutcome(src.name, "failed", error=exc.reason, network=True)
            return await self._fetch_failed(src, exc, penalise=True)
        try:
            return await self._process(src, result)
        except Exception as exc:  # a bug or a dead worker must cost one source, not the poll
            log.exception("source crashed the parser source=%s", src.name)
            return await self._failed(src, f"internal error: {exc.__class__.__name__}: {exc}")

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

    async def _process(self, src: SourceState, result: FetchResult) -> PollOutcome:
        now = self.clock()
        if result.not_modified:
            await self._db(
                self.store.record_not_modified,
                src.id,
                now=now,
                next_check_at=self._next(src, result=result),
                etag=result.etag,
                last_modified=result.last_modified,
            )
            log.debug("not modified source=%s", src.name)
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
            return PollOutcome(src.name, "unchanged")
        try:
            if src.kind == "feed":
                outcome, gap, ttl, info = await self._store_feed(src, result)
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
    ) -> tuple[PollOutcome, timedelta | None, timedelta | None, object]:
        parsed = await self._run_cpu(
            parse_feed_document,
            result.content or b"",
            src.show,
            result.url,
            result.content_type,
            self.registry,
        )
        assert isinstance(parsed, ParsedFeed)
        for warning in parsed.warnings:
            log.debug("feed warning source=%s: %s", src.name, warning)
        upsert = await self._db(
            self.store.upsert_episodes,
            src.id,
            parsed.episodes,
            now=self.clock(),
            source_kind="feed",
        )
        added, updated = len(upsert.added), len(upsert.updated)
        for key in upsert.added[:50]:
            log.debug("episode added source=%s key=%s", src.name, key)
        status: Status = "added" if added else ("updated" if updated else "unchanged")
        gap = median_gap([ep.published for ep in parsed.episodes])
        ttl = (
            timedelta(minutes=parsed.info.ttl_minutes)
            if parsed.info.ttl_minutes and parsed.info.ttl_minutes > 0
            else None
        )
        if src.follow_pages and (added or updated):
            await self.follow_pages(src)
        return PollOutcome(src.name, status, added=added, updated=updated), gap, ttl, parsed.info

    async def _store_page(self, src: SourceState, result: FetchResult) -> PollOutcome:
        episodes = await self._run_cpu(
            parse_page_document,
            result.content or b"",
            src.show,
            result.url,
            result.content_type,
            self.registry,
            None,
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
                upsert = await self._db(
                    self.store.upsert_episodes, src.id, [ep], now=self.clock(), source_kind="page"
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
                            parse_page_document,
                            body,
                            src.show,
                            result.url,
                            result.content_type,
                            self.registry,
                            item.duration,  # type: ignore[attr-defined]
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

        When every source of a poll fails for network reasons, the host's network is down,
        not the feeds: the failures are recorded without counting towards backoff.
        """
        if not sources:
            return []
        deferred: list[tuple[SourceState, FetchError]] = []
        outcomes = list(
            await asyncio.gather(*(self.poll_source(s, deferred=deferred) for s in sources))
        )
        network_down = len(sources) > 1 and len(deferred) == len(sources)
        if network_down:
            log.warning("every source failed for network reasons; not counting it against them")
        await asyncio.gather(
            *(self._fetch_failed(src, exc, penalise=not network_down) for src, exc in deferred)
        )
        return outcomes
