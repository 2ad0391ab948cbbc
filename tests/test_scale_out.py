"""Several instances on one PostgreSQL share the polls and run singleton jobs once.

The first test runs three real ``aggregator run`` processes against 300 feeds on a
loopback server and kills one of them mid-poll; the server's request log is the witness.
The others drive the singleton jobs (publishing, digests) of three instances at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from aggregator.app import PUBLISH_LEASE, Services
from aggregator.app import Daemon as AppDaemon
from aggregator.config import load_settings
from aggregator.deliver import run_scheduled_digest
from aggregator.leasing import source_lease
from aggregator.model import Episode
from aggregator.store import Store
from aggregator.store.engine import make_engine
from daemonproc import Daemon
from httpserver import HttpServer
from smtpserver import Inbox, smtp_server
from support import closed_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SOURCES = 300
DELAY = 0.2  # seconds the server takes per feed, so a batch of polls takes a while
# poll.timeout in seconds; a source lease is four of them. Not shorter: the test server's
# listen backlog is small, and a connection that has to retry its SYN waits a second or three.
TIMEOUT = 5


def _feed(i: int) -> bytes:
    when = format_datetime(datetime(2025, 5, 1, tzinfo=UTC) + timedelta(hours=i))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Spade Show {i}</title><link>https://spade.example.org/{i}</link>
<item><title>Spades, part {i}</title><guid isPermaLink="false">spade-{i}</guid>
<pubDate>{when}</pubDate>
<enclosure url="https://media.example.org/spade-{i}.mp3" length="1000" type="audio/mpeg"/>
</item></channel></rss>
""".encode()


def _config(tmp_path: Path, name: str, server: HttpServer, pg_url: str, extra: str = "") -> Path:
    feeds = "".join(
        f"  - name: Spade Show {i}\n    url: {server.url(f'/spade/{i}.xml')}\n"
        for i in range(SOURCES)
    )
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(
        f"state_dir: state-{name}\ndatabase: '{pg_url}'\nlisten: 127.0.0.1:{closed_port()}\n"
        "allow_private_addresses: true\n"
        "poll:\n  interval: 1h\n  min_interval: 1h\n  max_interval: 1h\n  tick: 0.2s\n"
        f"  timeout: {TIMEOUT}s\n  concurrency: 4\n  per_host: 4\n"
        f"merged_feed:\n  link: http://127.0.0.1/\n{extra}feeds:\n{feeds}"
    )
    return cfg


def _rows(pg_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def test_three_daemons_share_the_polls_and_take_over_a_killed_ones(
    tmp_path: Path, pg_url: str
) -> None:
    with HttpServer() as server:
        for i in range(SOURCES):
            server.set(f"/spade/{i}.xml", _feed(i), content_type="application/rss+xml", delay=DELAY)
        configs = [_config(tmp_path, name, server, pg_url) for name in ("a", "b", "c")]
        with Daemon(configs[0]) as a, Daemon(configs[1]) as b, Daemon(configs[2]) as c:

            def held_by(daemon: Daemon) -> list[tuple[object, ...]]:
                return _rows(
                    pg_url,
                    "SELECT url, lease_until FROM source WHERE lease_owner LIKE :pid",
                    pid=f"%:{daemon.pid}:%",
                )

            def migrated() -> bool:
                found = _rows(pg_url, "SELECT count(*) FROM pg_tables WHERE tablename = 'source'")
                return found == [(1,)]

            a.wait(migrated, 60, "the database migrated")
            a.wait(lambda: bool(held_by(a)), 60, "the first daemon to claim sources")
            wait_for(lambda: len(server.requests) >= 4, 30, "polls under way")
            claimed = held_by(a)
            os.kill(a.pid, signal.SIGKILL)
            a.proc.wait(timeout=10)
            killed_at = datetime.now(UTC)
            paths = {str(url).removeprefix(server.base_url): until for url, until in claimed}
            seen_at_kill = {p: len(server.requests_to(p)) for p in paths}
            expires = min(paths.values())
            assert isinstance(expires, datetime)
            lease = source_lease(load_settings(configs[0]).poll)
            assert expires - killed_at <= lease

            # Nobody touches the dead instance's sources while its lease runs.
            time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds() - 0.5))
            assert {p: len(server.requests_to(p)) for p in paths} == seen_at_kill

            def all_polled() -> bool:
                (done,) = _rows(
                    pg_url, "SELECT count(*) FROM source WHERE last_checked_at IS NOT NULL"
                )[0]
                return done == SOURCES

            b.wait(all_polled, 90, "every source polled")
            c.wait(lambda: True, 1, "the third daemon still running")
            for daemon in (b, c):
                code, _ = daemon.stop()
                assert code == 0, daemon.text()

            polled_by = {
                name: {
                    e["source"] for ev in ("source polled", "source failed") for e in d.events(ev)
                }
                for name, d in (("b", b), ("c", c))
            }

    counts = {f"/spade/{i}.xml": len(server.requests_to(f"/spade/{i}.xml")) for i in range(SOURCES)}
    # Exactly once per due period; the killed daemon's sources once more, after its lease.
    assert {p: n for p, n in counts.items() if p not in paths and n != 1} == {}
    assert {p: counts[p] - seen_at_kill[p] for p in paths} == dict.fromkeys(paths, 1)
    assert polled_by["b"] and polled_by["c"], "both survivors took part"
    assert not polled_by["b"] & polled_by["c"], "no source was polled by both survivors"
    taken_over = {f"Spade Show {p.split('/')[-1].removesuffix('.xml')}" for p in paths}
    assert taken_over <= polled_by["b"] | polled_by["c"]
    leftover = _rows(pg_url, "SELECT count(*) FROM source WHERE lease_owner IS NOT NULL")
    assert leftover == [(0,)]
    stored = _rows(pg_url, "SELECT count(*) FROM episode")
    assert stored == _rows(pg_url, "SELECT count(*) FROM source WHERE last_success_at IS NOT NULL")
    assert stored[0][0] >= SOURCES * 0.9


# ---------------------------------------------------------------- singleton jobs


@pytest.fixture
def instances(tmp_path: Path, pg_url: str) -> Iterator[tuple[list[Services], Inbox]]:
    """Three instances of one configuration on one database, and the mailbox they send to."""
    with smtp_server() as (controller, inbox):
        smtp = (
            f"smtp:\n  host: 127.0.0.1\n  port: {controller.port}\n  security: none\n"
            "  from: Digest <digest@example.org>\n"
            "digests:\n  - name: daily\n    schedule: '0 7 * * *'\n"
            "    to: [reader-one@example.org, reader-two@example.org]\n"
        )
        cfg = _config(tmp_path, "x", HttpServer(), pg_url, extra=smtp)
        settings = load_settings(cfg)
        opened = [Services.open(settings, clock=lambda: NOW, processes=False) for _ in range(3)]
        try:
            yield opened, inbox
        finally:
            for services in opened:
                asyncio.run(services.close())


NOW = datetime(2025, 5, 20, 7, 0, 30, tzinfo=UTC)


def _seed(store: Store) -> None:
    source = store.all_sources()[0]
    episodes = [
        Episode(show=source.show, title=f"Trowels {n}", guid=f"trowel-{n}", number=n)
        for n in range(3)
    ]
    store.upsert_episodes(source.id, episodes, now=NOW - timedelta(hours=3), source_kind="feed")


def test_publishing_waits_for_the_lease_holder(
    instances: tuple[list[Services], Inbox],
) -> None:
    one, two, three = instances[0]
    _seed(one.store)
    assert one.store.try_lease(PUBLISH_LEASE, one.instance, now=NOW, ttl=timedelta(minutes=2))
    # While one instance holds the lease the others write nothing.
    assert asyncio.run(two.publish()) == []
    assert asyncio.run(three.publish()) == []
    assert not (two.settings.public_dir / "feed.xml").exists()
    one.store.release_lease(PUBLISH_LEASE, one.instance)
    assert "feed.xml" in asyncio.run(two.publish())


def test_the_publish_lease_admits_one_of_many_at_once(
    instances: tuple[list[Services], Inbox],
) -> None:
    store = instances[0][0].store
    barrier = threading.Barrier(12)
    won: list[str] = []

    def grab(name: str) -> None:
        barrier.wait()
        if store.try_lease("race", name, now=NOW, ttl=timedelta(minutes=1)):
            won.append(name)

    threads = [threading.Thread(target=grab, args=(f"i{k}",)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_a_digest_goes_out_once_when_three_instances_run_its_jobs(
    instances: tuple[list[Services], Inbox],
) -> None:
    services_list, inbox = instances
    _seed(services_list[0].store)
    daemons = []
    for services in services_list:
        daemon = AppDaemon(None, services.settings, clock=lambda: NOW)
        daemon.services = services
        daemons.append(daemon)

    async def everyone(job: str) -> None:
        if job == "prepare":
            await asyncio.gather(*(d._digest_job("daily", run_scheduled_digest) for d in daemons))
        else:
            await asyncio.gather(*(d._deliver_job() for d in daemons))

    asyncio.run(everyone("prepare"))
    asyncio.run(everyone("deliver"))
    asyncio.run(everyone("prepare"))  # the same period again: nothing new to queue
    asyncio.run(everyone("deliver"))
    recipients = sorted(r for m in inbox.received for r in m.rcpt_to)
    assert recipients == ["reader-one@example.org", "reader-two@example.org"]
    ids = [m.message()["Message-ID"] for m in inbox.received]
    assert len(set(ids)) == 2
    assert "Trowels 2" in inbox.received[0].message().get_body(("plain",)).get_content()


def test_a_renewed_claim_outlives_its_first_lease_and_a_dead_one_does_not(
    instances: tuple[list[Services], Inbox],
) -> None:
    store = instances[0][0].store
    lease = timedelta(seconds=20)
    mine = store.due_sources(NOW, limit=5, owner="alive", lease=lease)
    theirs = store.due_sources(NOW, limit=5, owner="dead", lease=lease)
    assert len(mine) == len(theirs) == 5
    recorded = mine[0]  # its poll finished: no lease left to renew
    store.record_not_modified(recorded.id, now=NOW, next_check_at=NOW + timedelta(hours=1))
    later = NOW + timedelta(seconds=15)
    assert store.renew_leases([s.id for s in mine], "alive", until=later + lease) == 4
    after = NOW + timedelta(seconds=25)  # past the first lease
    claimed = store.due_sources(after, limit=400, owner="other", lease=lease)
    names = {s.name for s in claimed}
    assert {s.name for s in theirs} <= names
    assert not names & {s.name for s in mine}
