"""SIGKILL at 20+ moments during polls, publishing and digests; nothing lost, doubled or torn.

The daemon (``aggregator run``) and ``aggregator digest NAME --send`` run as real processes
against feeds on a loopback server and an SMTP server (aiosmtpd); feeds grow between rounds.
Each kill waits for an observable moment, never for time: the k-th feed request reaching the
server, a publish under way (its temporary file, or feed.xml replaced), or the SMTP server
holding the k-th message's RCPT or DATA. After every kill the published files must be whole
and valid and the database free of duplicates; at the end, after one clean poll and one
clean digest run, every served episode is stored and published once and every digest
message reached the server exactly once (counted by Message-ID).

Not covered, by the nature of SMTP: a kill after the server's "250 accepted" and before the
outbox row is marked sent. The next run re-sends that message with the same Message-ID
(deliver.py says so in the log); the test's SMTP kills all come before the 250.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from aggregator.app import Services
from aggregator.config import Settings, load_settings
from aggregator.deliver import deliver_due, sending_lease
from aggregator.store import Store
from feedgen import SHOWS, Show, episode_guid, render_feed
from httpserver import HttpServer
from smtpserver import Inbox, smtp_server
from support import closed_port, wait_for

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("AGGREGATOR_CRASH_SEED", "20261122"))
RECIPIENTS = ("one@example.org", "two@example.org", "three@example.org")
# At least this many kills of each kind, 22 or more in all.
MIN_KILLS = {"poll": 6, "publish": 4, "digest": 6}
MIN_TOTAL = 22


class HoldingInbox(Inbox):
    """An Inbox that can stop at the k-th RCPT or DATA until the test has killed the client.

    A held DATA is then answered without keeping the message: the server never said 250,
    so the message was never accepted (a real server discards it the same way).
    """

    def __init__(self) -> None:
        super().__init__()
        self.arm: tuple[str, int] | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self._seen: Counter[str] = Counter()

    def reset(self, arm: tuple[str, int] | None) -> None:
        self.arm, self._seen = arm, Counter()
        self.held.clear()
        self.release.clear()

    async def _hold(self, command: str) -> bool:
        self._seen[command] += 1
        if self.arm != (command, self._seen[command]):
            return False
        self.held.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        return True

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if await self._hold("RCPT"):
            return "451 4.3.0 try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if await self._hold("DATA"):
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


class World:
    """The feeds, the config and the processes of one crash test."""

    def __init__(self, tmp_path: Path, http: HttpServer, smtp_port: int) -> None:
        self.tmp = tmp_path
        self.http = http
        self.counts = {s.slug: 3 for s in SHOWS}
        self.serve()
        feeds = "".join(
            f"  - name: {s.title!r}\n    url: {http.url(f'/{s.slug}.xml')}\n" for s in SHOWS
        )
        to = "".join(f"      - {r}\n" for r in RECIPIENTS)
        self.cfg = tmp_path / "feeds.yaml"
        self.cfg.write_text(
            f"state_dir: state\nlisten: 127.0.0.1:{closed_port()}\nallow_private_addresses: true\n"
            "poll:\n  interval: 1s\n  min_interval: 1s\n  max_interval: 1s\n  tick: 0.2s\n"
            "merged_feed:\n  link: http://127.0.0.1/\n  max_items: 1000\n"
            f"smtp:\n  host: 127.0.0.1\n  port: {smtp_port}\n  security: none\n"
            "  from: Digest <digest@example.org>\n  timeout: 10s\n"
            f"digests:\n  - name: daily\n    schedule: '0 3 1 1 *'\n    to:\n{to}"
            f"feeds:\n{feeds}"
        )
        self.public = tmp_path / "state" / "public"
        self.db = tmp_path / "state" / "aggregator.db"
        self.env = dict(os.environ, AGGREGATOR_LOG_LEVEL="WARNING")
        self.env.pop("NOTIFY_SOCKET", None)

    def serve(self) -> None:
        for show in SHOWS:
            self.http.set(
                f"/{show.slug}.xml",
                render_feed(show, self.counts[show.slug]),
                content_type="application/rss+xml",
                delay=0.05,
            )

    def grow(self, rng: random.Random, shows: list[Show]) -> None:
        for show in rng.sample(shows, min(len(shows), rng.randint(1, 2))):
            self.counts[show.slug] += 1
        self.serve()

    def free_shows(self) -> list[Show]:
        """Shows whose source no killed daemon still holds a lease on (a lease outlives its
        holder until it expires, then any instance may poll the source again)."""
        if not self.db.exists():
            return list(SHOWS)
        store = Store(f"sqlite:///{self.db}")
        try:
            now = datetime.now(UTC)
            held = {s.name for s in store.all_sources() if s.lease_until and s.lease_until > now}
        finally:
            store.close()
        return [s for s in SHOWS if s.title not in held]

    def expected_guids(self) -> list[str]:
        return sorted(episode_guid(s, n) for s in SHOWS for n in range(1, self.counts[s.slug] + 1))

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "aggregator", *args, "--config", str(self.cfg)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: workers die with it
        )

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "aggregator", *args, "--config", str(self.cfg)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the main process and its parser workers
        proc.wait(timeout=30)

    def publish_started(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """Spin (no sleeping: a publish takes milliseconds) until a publish is under way."""
        before = self._inode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                names = os.listdir(self.public)
            except FileNotFoundError:
                names = []
            if any(n.endswith(".tmp") for n in names) or self._inode() != before:
                return True
            time.sleep(0)
        return False

    def _inode(self) -> int | None:
        try:
            return (self.public / "feed.xml").stat().st_ino
        except FileNotFoundError:
            return None

    def stored_guids(self) -> list[str]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as db:
            return sorted(row[0] for row in db.execute("select guid from episode"))

    def check_after_kill(self) -> None:
        """The invariants that must hold at any moment: whole files, no duplicates."""
        if self.db.exists():
            with sqlite3.connect(self.db) as db:
                assert db.execute("pragma integrity_check").fetchone() == ("ok",)
                dupes = db.execute(
                    "select guid from episode group by show_id, guid having count(*) > 1"
                ).fetchall()
                assert dupes == []
        if not (self.public / "feed.xml").exists():
            return
        data = (self.public / "feed.xml").read_bytes()
        assert data.rstrip().endswith(b"</rss>")
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids))
        assert set(ids) <= set(self.stored_guids()) | {e.id for e in parsed.entries if ":" in e.id}
        if (self.public / "feed.xml.gz").exists():
            unzipped = feedparser.parse(gzip.decompress((self.public / "feed.xml.gz").read_bytes()))
            assert unzipped.bozo == 0
        if (self.public / "feed.json").exists():
            json.loads((self.public / "feed.json").read_bytes())


async def poll_and_publish(settings: Settings, now: datetime) -> None:
    services = Services.open(settings, clock=lambda: now, processes=False)
    try:
        await services.poll_everything()
        assert await services.publish(), "the publish lease should have expired by now"
    finally:
        await services.close()


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    inbox = HoldingInbox()
    kills: Counter[str] = Counter()
    with HttpServer() as http, smtp_server(inbox) as (controller, _):
        world = World(tmp_path, http, controller.port)
        rounds = 0
        while sum(kills.values()) < MIN_TOTAL or any(kills[k] < n for k, n in MIN_KILLS.items()):
            rounds += 1
            assert rounds < 60, f"not enough kill moments reached: {dict(kills)}"
            free = world.free_shows()
            if not free:  # every source leased by killed daemons: `poll --once` frees them
                world.run("poll", "--once")
                free = world.free_shows()
            world.grow(rng, free)

            # The daemon: killed during a poll (after the k-th feed request) or a publish.
            http.reset_log()
            daemon = world.start("run")
            try:
                if kills["publish"] >= MIN_KILLS["publish"] or rng.random() < 0.5:
                    after = rng.randint(1, 2 * len(free))
                    wait_for(
                        lambda after=after, daemon=daemon: (
                            len(http.requests) >= after or daemon.poll() is not None
                        ),
                        60,
                        f"{after} feed requests",
                    )
                    kind = "poll"
                else:
                    kind = "publish" if world.publish_started(daemon, 30) else "missed"
                assert daemon.poll() is None, "the daemon exited on its own"
            finally:
                world.kill(daemon)
            kills[kind] += 1
            world.check_after_kill()

            # A digest run: killed while the server holds its k-th RCPT or DATA.
            inbox.reset((rng.choice(["RCPT", "DATA"]), rng.randint(1, len(RECIPIENTS))))
            digest = world.start("digest", "daily", "--send")
            try:
                wait_for(
                    lambda digest=digest: inbox.held.is_set() or digest.poll() is not None,
                    60,
                    "the digest run to reach the SMTP server or finish",
                )
                if inbox.held.is_set():
                    world.kill(digest)
                    kills["digest"] += 1
            finally:
                inbox.release.set()
                if digest.poll() is None:
                    world.kill(digest)
            inbox.reset(None)
            world.check_after_kill()

        assert kills["missed"] <= 2, dict(kills)

        # Recovery, once the leases that killed processes left behind have run out (the
        # clock is moved past them rather than waited for): one clean poll and publish,
        # one clean digest run, then the outbox drains what was killed mid-send.
        settings = load_settings(world.cfg)
        assert settings.smtp is not None
        # A day on is past every lease a killed process can leave (sources, publishing,
        # a digest message's sending lease).
        later = datetime.now(UTC) + timedelta(days=1)
        assert sending_lease(settings.smtp) < timedelta(days=1)
        asyncio.run(poll_and_publish(settings, later + timedelta(seconds=1)))
        world.run("digest", "daily", "--send")
        store = Store(settings.database_url)
        try:
            deliver_due(store, settings.smtp, now=later + timedelta(seconds=1))
            rows = store.outbox_rows("daily")
        finally:
            store.close()

    expected = world.expected_guids()
    assert world.stored_guids() == expected  # nothing missing, nothing doubled
    parsed = feedparser.parse((world.public / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    assert len(parsed.entries) == len(expected)
    assert len({e.id for e in parsed.entries}) == len(expected)

    received = Counter(str(r.message()["Message-ID"]) for r in inbox.received)
    assert rows and all(row.status == "sent" for row in rows), [r.status for r in rows]
    assert not [mid for mid, n in received.items() if n > 1]  # no digest sent twice
    assert set(received) == {row.message_id for row in rows}  # and none lost
