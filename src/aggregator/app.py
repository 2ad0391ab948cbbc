"""Wiring: store, HTTP client, clock, scheduler jobs, HTTP server, signals, sd_notify.

Nothing imports this module but the CLI. Resources are built once in :meth:`Services.open`
and closed in reverse order, so every command (daemon, ``poll --once``, ``publish``) runs
the same, fully initialised stack.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aggregator import __version__
from aggregator.config import ConfigError, Settings, load_settings
from aggregator.extract import SponsorRegistry
from aggregator.fetch import Fetcher
from aggregator.leasing import alone, renewing, source_lease
from aggregator.metrics import Metrics
from aggregator.notify import Notifier, watchdog_interval
from aggregator.publish import publish_all, template_env
from aggregator.store import Store
from aggregator.update import PollOutcome, Updater, bounds_of
from aggregator.workers import ParsePool

log = logging.getLogger(__name__)

PUBLISH_LEASE = "publish"
# A lease outlives a killed holder by its TTL: publishing takes seconds, so after a crash
# another instance (or the restarted one) publishes again within two minutes. Two
# instances publishing at once is harmless anyway: each file is replaced atomically.
PUBLISH_LEASE_TTL = timedelta(minutes=2)
# The longest a claimed source stays out of reach after its instance stopped renewing.
SOURCE_LEASE = timedelta(minutes=10)
# How long SIGTERM waits for in-flight polls: inside the unit's TimeoutStopSec=60s with
# room to close the database and the HTTP server.
STOP_GRACE = 45.0
# Source gauges re-read successes this far back: polls under way, other instances' clocks.
OBSERVE_OVERLAP = timedelta(minutes=15)
# A parser worker may use this much memory (or 40 times the body cap) before it fails.
PARSER_MEMORY = 1024**3


def utcnow() -> datetime:
    return datetime.now(UTC)


def user_agent(settings: Settings) -> str:
    return f"aggregator/{__version__} (+{settings.user_agent_contact})"


def registry_for(settings: Settings) -> SponsorRegistry:
    return SponsorRegistry.default().extended(settings.sponsors)


@dataclass
class Services:
    """Everything a command needs, opened once."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    updater: Updater
    clock: Callable[[], datetime]
    executor: Executor | None
    instance: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    @classmethod
    def open(
        cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow, processes: bool = True
    ) -> Services:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = Store(settings.database_url)
        store.upgrade()
        store.sync_sources(settings, clock())
        p = settings.poll
        fetcher = Fetcher(
            timeout=p.timeout.total_seconds(),
            max_bytes=p.max_bytes,
            max_redirects=p.max_redirects,
            concurrency=p.concurrency,
            per_host=p.per_host,
            allow_private_addresses=settings.allow_private_addresses,
            user_agent=user_agent(settings),
            now=clock,
        )
        executor = (
            ParsePool(
                max(1, os.cpu_count() or 2),
                time_limit=p.timeout.total_seconds(),
                memory_limit=max(PARSER_MEMORY, 40 * p.max_bytes),
            )
            if processes
            else None
        )
        updater = Updater(
            store,
            fetcher,
            settings,
            registry=registry_for(settings),
            clock=clock,
            executor=executor,
        )
        return cls(settings, store, fetcher, updater, clock, executor)

    async def close(self) -> None:
        await self.fetcher.aclose()
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    def apply_settings(self, settings: Settings) -> None:
        """Swap in a reloaded configuration: sources, sponsors, intervals, merged feed and
        digests. What the open resources were built with (database, listen address, fetch
        and parse limits, logging) stays until a restart."""
        self.store.sync_sources(settings, self.clock())
        self.settings = settings
        self.updater.settings = settings
        self.updater.registry = registry_for(settings)
        self.updater.bounds = bounds_of(settings)

    async def poll_due(self, *, lease: bool = True) -> list[PollOutcome]:
        """Claim due sources (leased: other instances skip them) and poll them, renewing the
        leases while the batch runs."""
        ttl = min(source_lease(self.settings.poll), SOURCE_LEASE)
        due = await asyncio.to_thread(
            self.store.due_sources,
            self.clock(),
            limit=max(100, self.settings.poll.concurrency * 8),
            owner=self.instance if lease else None,
            lease=ttl if lease else None,
        )
        if not lease:
            return await self.updater.poll_many(due)
        async with renewing(self.store, self.instance, due, ttl, self.clock):
            return await self.updater.poll_many(due)

    async def poll_everything(self) -> list[PollOutcome]:
        sources = [
            s for s in await asyncio.to_thread(self.store.all_sources) if s.active and not s.muted
        ]
        return await self.updater.poll_many(sources)

    async def publish(self) -> list[str]:
        """Write the merged feed files; on several instances only the lease holder does."""
        now = self.clock()
        if not await asyncio.to_thread(
            self.store.try_lease, PUBLISH_LEASE, self.instance, now=now, ttl=PUBLISH_LEASE_TTL
        ):
            log.debug("publish skipped: another instance holds the lease")
            return []
        try:
            items = await asyncio.to_thread(
                self.store.latest_episodes, self.settings.merged_feed.max_items
            )
            feeds = await asyncio.to_thread(self.store.feed_urls)
            env = template_env(self.settings.templates)
            written = await asyncio.to_thread(
                publish_all,
                items,
                [(show, url, None) for show, url in feeds],
                self.settings,
                now=now,
                env=env,
            )
        finally:
            await asyncio.to_thread(self.store.release_lease, PUBLISH_LEASE, self.instance)
        if written:
            log.info("published files=%s", ",".join(written))
        return written


class Daemon:
    """``aggregator run``: scheduler, HTTP server, signals, metrics and systemd notifications."""

    def __init__(
        self, config_path: str | None, settings: Settings, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.config_path = config_path
        self.settings = settings
        self.clock = clock
        self.notifier = Notifier.from_env()
        self.metrics = Metrics()
        self.services: Services | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.stopping = asyncio.Event()
        self.last_poll: datetime | None = None
        self.failing = 0
        self._observed_at: datetime | None = None
        self._inflight: set[asyncio.Task[object]] = set()
        self._server: object | None = None

    async def run(self) -> int:
        from aggregator.web import build_app, start_server

        loop = asyncio.get_running_loop()
        # Before the slow start (migrations): a stop request during it is honoured.
        for sig, handler in (
            (signal.SIGTERM, self.stopping.set),
            (signal.SIGINT, self.stopping.set),
            (signal.SIGHUP, lambda: self._spawn(self.reload())),
        ):
            loop.add_signal_handler(sig, handler)
        self.notifier.status("starting: migrating the database")
        self.services = await asyncio.to_thread(Services.open, self.settings, clock=self.clock)
        await self._observe_sources()
        app = build_app(
            self.settings.public_dir,
            ready=self.ready,
            metrics=self.metrics,
            metrics_public=self.settings.metrics_public,
        )
        self._server = await start_server(app, self.settings.listen_host, self.settings.listen_port)
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self.settings.poll.tick.total_seconds()),
            id="tick",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
            misfire_grace_time=None,
        )
        self._schedule_digests()
        self.scheduler.start()
        watchdog = watchdog_interval()
        dog = asyncio.create_task(self._watchdog(watchdog)) if watchdog else None
        log.info(
            "started version=%s sources=%d listen=%s db=%s",
            __version__,
            self.source_count,
            self.settings.listen,
            self.services.store.url_for_logs,
        )
        if not self.stopping.is_set():
            self.notifier.ready(f"{self.source_count} sources, waiting for first poll")
        await self.stopping.wait()
        await self._drain(dog)
        return 0

    async def _drain(self, dog: asyncio.Task[None] | None) -> None:
        """SIGTERM: take no new work, let in-flight polls finish (up to the grace), close."""
        assert self.services is not None and self.scheduler is not None
        log.info("stopping: finishing in-flight polls count=%d", len(self._inflight))
        self.notifier.stopping()
        # Paused, not shut down: APScheduler's shutdown cancels the jobs still running.
        self.scheduler.pause()
        if dog:
            dog.cancel()
        if self._inflight:
            _, late = await asyncio.wait(set(self._inflight), timeout=STOP_GRACE)
            for task in late:
                task.cancel()
            if late:
                log.warning("stopping: cancelled polls still running after %gs", STOP_GRACE)
                await asyncio.wait(late, timeout=5)
        self.scheduler.shutdown(wait=False)
        await self._server.stop()  # type: ignore[attr-defined]
        await self.services.close()
        log.info("stopped")

    @property
    def source_count(self) -> int:
        return len(self.settings.feeds) + len(self.settings.pages)

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _tick(self) -> None:
        if self.stopping.is_set() or self.services is None:
            return
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            outcomes = await self.services.poll_due()
            if outcomes:
                self.last_poll = self.clock()
                self.metrics.observe_polls(outcomes)
                await self._observe_sources()
                if (
                    any(o.changed for o in outcomes)
                    or not self.settings.public_dir.joinpath("feed.xml").exists()
                ):
                    await self.services.publish()
            self.notifier.status(self.status_line())
        except Exception:
            log.exception("poll tick failed")
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _observe_sources(self, *, complete: bool = False) -> None:
        """Refresh the source gauges. Between complete reads (at start and on reload, when
        sources come and go) only sources that succeeded since the last read are fetched;
        the overlap covers polls that were under way and other instances' clocks."""
        assert self.services is not None
        now = self.clock()
        since = (
            None if complete or self._observed_at is None else self._observed_at - OBSERVE_OVERLAP
        )
        health = await asyncio.to_thread(self.services.store.source_health, since)
        self.metrics.observe_sources(health, complete=since is None)
        self._observed_at = now
        self.failing = health.failing

    def status_line(self) -> str:
        last = self.last_poll.strftime("%Y-%m-%d %H:%M:%SZ") if self.last_poll else "never"
        return f"{self.source_count} sources, last poll {last}, {self.failing} failing"

    def _schedule_digests(self) -> None:
        assert self.scheduler is not None
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        if not self.settings.digests:
            return
        from aggregator.deliver import run_scheduled_digest
        from aggregator.digest import trigger as digest_trigger

        for d in self.settings.digests:
            self.scheduler.add_job(
                self._digest_job,
                digest_trigger(d),
                args=[d.name, run_scheduled_digest],
                id=f"digest:{d.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=6 * 3600,
            )
        self.scheduler.add_job(
            self._deliver_job,
            IntervalTrigger(minutes=1),
            id="digest:deliver",
            max_instances=1,
            coalesce=True,
        )

    async def _digest_job(self, name: str, run: Callable[..., object]) -> None:
        """On several instances, the one holding the digest's lease prepares it."""
        assert self.services is not None
        store, settings = self.services.store, self.settings
        try:
            await alone(
                store,
                f"digest:{name}",
                self.services.instance,
                lambda: asyncio.to_thread(run, store, settings, name, now=self.clock()),
                clock=self.clock,
            )
        except Exception:
            log.exception("digest failed digest=%s", name)

    async def _deliver_job(self) -> None:
        from aggregator.deliver import deliver_due

        assert self.services is not None and self.settings.smtp is not None
        store, smtp = self.services.store, self.settings.smtp
        try:
            _, report = await alone(
                store,
                "digest:deliver",
                self.services.instance,
                lambda: asyncio.to_thread(deliver_due, store, smtp, now=self.clock()),
                clock=self.clock,
            )
        except Exception:
            log.exception("digest delivery failed")
            return
        if report is not None:
            self.metrics.observe_digests(len(report.sent))

    async def reload(self) -> None:
        """SIGHUP: re-read feeds.yaml; an invalid file keeps the running configuration."""
        if self.services is None or self.stopping.is_set():
            return
        self.notifier.reloading(time.monotonic_ns() // 1000)
        try:
            settings = await asyncio.to_thread(load_settings, self.config_path)
        except ConfigError as exc:
            log.error(
                "reload failed: keeping the running configuration: %s",
                str(exc).replace("\n", "; "),
            )
            self.notifier.ready(self.status_line())
            return
        await asyncio.to_thread(self.services.apply_settings, settings)
        self.settings = settings
        self._schedule_digests()
        await self._observe_sources(complete=True)
        log.info("reloaded sources=%d", self.source_count)
        self.notifier.ready(self.status_line())

    async def ready(self) -> bool:
        """Readiness: started, scheduler running, and the database answers within 5 s."""
        if self.services is None or self.scheduler is None or not self.scheduler.running:
            return False
        try:
            await asyncio.wait_for(asyncio.to_thread(self.services.store.ping), timeout=5)
        except Exception:
            return False
        return True

    async def _watchdog(self, every: float) -> None:
        """Ping only while the loop runs (this task) and the database answers."""
        while True:
            if await self.ready():
                self.notifier.watchdog()
            else:
                log.warning("watchdog skipped: the database or the scheduler is not answering")
            await asyncio.sleep(every)


def run_daemon(config_path: str | None, settings: Settings) -> int:
    return asyncio.run(Daemon(config_path, settings).run())


async def poll_once(settings: Settings) -> tuple[list[PollOutcome], list[str]]:
    services = await asyncio.to_thread(Services.open, settings)
    try:
        outcomes = await services.poll_everything()
        written = await services.publish()
    finally:
        await services.close()
    return outcomes, written


async def publish_now(settings: Settings) -> list[str]:
    services = await asyncio.to_thread(Services.open, settings, processes=False)
    try:
        return await services.publish()
    finally:
        await services.close()
