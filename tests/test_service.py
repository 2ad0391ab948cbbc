"""The daemon as systemd runs it: sd_notify, SIGHUP reloads, SIGTERM drains, quiet logs.

Every test starts a real ``aggregator run`` process against feeds on a loopback server, with
a real notification socket where systemd would listen.
"""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from daemonproc import Daemon, NotifySocket, PausableProxy, daemon_config
from feedgen import SHOWS, Show, episode_guid, render_feed
from httpserver import HttpServer
from support import COUNTS, serve_shows

pytestmark = pytest.mark.slow


@pytest.fixture
def notify() -> NotifySocket:
    sock = NotifySocket()
    yield sock
    sock.close()


def ready_after_reload(notify: NotifySocket, nth: int) -> bool:
    """READY=1 came after the nth (1-based) RELOADING=1."""
    messages = notify.messages
    reloading = [i for i, m in enumerate(messages) if "RELOADING" in m]
    return len(reloading) >= nth and any("READY" in m for m in messages[reloading[nth - 1] :])


def requested(server: HttpServer, show: Show) -> int:
    return len(server.requests_to(f"/{show.slug}.xml"))


def stored_guids(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "state" / "aggregator.db") as db:
        return [row[0] for row in db.execute("select guid from episode")]


def test_ready_after_migrations_then_status_and_watchdog_then_stopping(
    tmp_path: Path, http_server: HttpServer, notify: NotifySocket
) -> None:
    serve_shows(http_server, COUNTS)
    cfg = daemon_config(tmp_path, http_server)
    # WatchdogSec=0.9s: a ping every 0.3 s.
    with Daemon(cfg, notify=notify, env={"WATCHDOG_USEC": "900000"}) as daemon:
        daemon.wait(lambda: notify.with_key("READY"), 60, "READY=1")
        with sqlite3.connect(tmp_path / "state" / "aggregator.db") as db:
            (head,) = db.execute("select version_num from alembic_version").fetchone()
        assert head
        first = notify.messages
        ready_at = next(i for i, m in enumerate(first) if "READY" in m)
        assert first[0]["STATUS"].startswith("starting")
        assert "WATCHDOG" not in {k for m in first[:ready_at] for k in m}
        assert first[ready_at]["READY"] == "1"
        assert first[ready_at]["STATUS"] == "5 sources, waiting for first poll"
        assert daemon.answers("/readyz")

        daemon.wait(
            lambda: any("last poll 2" in m.get("STATUS", "") for m in notify.messages),
            60,
            "a STATUS line after the first poll",
        )
        status = next(m["STATUS"] for m in notify.messages if "last poll 2" in m.get("STATUS", ""))
        assert status.startswith("5 sources, last poll ")
        assert status.endswith("Z, 0 failing")
        daemon.wait(lambda: len(notify.with_key("WATCHDOG")) >= 4, 30, "four WATCHDOG=1 pings")
        assert all(m == {"WATCHDOG": "1"} for m in notify.with_key("WATCHDOG"))

        code, _ = daemon.stop()
        assert code == 0
    assert notify.messages[-1] == {"STOPPING": "1", "STATUS": "stopping"}


def test_no_watchdog_without_watchdog_usec_and_status_counts_failures(
    tmp_path: Path, http_server: HttpServer, notify: NotifySocket
) -> None:
    serve_shows(http_server, COUNTS)
    missing = f"  - name: Missing Show\n    url: {http_server.url('/missing.xml')}\n"
    cfg = daemon_config(tmp_path, http_server, slugs=["pyweekly"], extra_feeds=missing)
    with Daemon(cfg, notify=notify) as daemon:
        daemon.wait(
            lambda: any("last poll 2" in m.get("STATUS", "") for m in notify.messages),
            60,
            "a STATUS line after the first poll",
        )
        status = next(m["STATUS"] for m in notify.messages if "last poll 2" in m.get("STATUS", ""))
        assert status.startswith("2 sources, last poll ")
        assert status.endswith(", 1 failing")
        assert notify.with_key("WATCHDOG") == []
        assert daemon.stop()[0] == 0


def test_sighup_picks_up_a_new_feed_and_keeps_the_old_config_when_invalid(
    tmp_path: Path, http_server: HttpServer, notify: NotifySocket
) -> None:
    serve_shows(http_server, COUNTS)
    cfg = daemon_config(tmp_path, http_server, slugs=["pyweekly", "typecast"])
    with Daemon(cfg, notify=notify) as daemon:
        daemon.wait(lambda: len(daemon.events("source polled")) == 2, 60, "the first poll")
        newcomer = SHOWS[2]
        assert requested(http_server, newcomer) == 0
        valid = daemon_config(
            tmp_path,
            http_server,
            slugs=["pyweekly", "typecast", newcomer.slug],
            port=int(daemon.base.rsplit(":", 1)[1]),
        )
        assert valid == cfg

        daemon.signal(signal.SIGHUP)
        daemon.wait(lambda: requested(http_server, newcomer) >= 1, 30, "the new feed's poll")
        daemon.wait(lambda: daemon.events("reloaded"), 10, "the reload log line")
        assert daemon.events("reloaded")[0]["sources"] == "3"
        daemon.wait(
            lambda: any(d.get("source") == newcomer.title for d in daemon.events("source polled")),
            30,
            "the new show stored",
        )
        assert (
            len([g for g in stored_guids(tmp_path) if g.startswith(newcomer.slug)])
            == COUNTS[newcomer.slug]
        )
        daemon.wait(lambda: ready_after_reload(notify, 1), 10, "READY=1 after RELOADING=1")
        (reloading,) = notify.with_key("RELOADING")
        assert int(reloading["MONOTONIC_USEC"]) > 0

        good = cfg.read_text()
        cfg.write_text(good.replace("feeds:\n", "feeds:\n  - name: Broken\n    url: ftp://x\n"))
        daemon.signal(signal.SIGHUP)
        daemon.wait(lambda: daemon.events("reload failed"), 10, "the reload error")
        errors = [d for d in daemon.lines() if d["level"] == "error"]
        assert len(errors) == 1
        assert "keeping the running configuration" in errors[0]["message"]
        assert f"{cfg.resolve()}:" in errors[0]["message"]
        assert "feeds[0].url" in errors[0]["message"]
        assert "\n" not in errors[0]["message"]
        daemon.wait(lambda: ready_after_reload(notify, 2), 10, "READY=1 after the failed reload")
        assert daemon.answers("/readyz")
        assert daemon.stop()[0] == 0
    assert "Broken" not in {d.get("source") for d in daemon.lines()}


def test_sigterm_lets_the_poll_in_flight_finish_and_exits_0(
    tmp_path: Path, http_server: HttpServer
) -> None:
    slow = SHOWS[3]
    serve_shows(http_server, COUNTS)
    http_server.set(
        f"/{slow.slug}.xml",
        render_feed(slow, COUNTS[slow.slug]),
        content_type="application/rss+xml",
        delay=3,
    )
    cfg = daemon_config(tmp_path, http_server, slugs=[SHOWS[0].slug, slow.slug])
    with Daemon(cfg) as daemon:
        daemon.wait(lambda: requested(http_server, slow) == 1, 60, "the slow feed's request")
        code, took = daemon.stop()
        assert code == 0, daemon.text()
        assert took < 60  # the unit's TimeoutStopSec
        events = [d["event"] for d in daemon.lines()]
    assert events.index("stopping: finishing in-flight polls") < events.index("stopped")
    assert any(d.get("source") == slow.title for d in daemon.events("source polled"))
    guids = stored_guids(tmp_path)
    assert sorted(g for g in guids if g.startswith(slow.slug)) == sorted(
        episode_guid(slow, n) for n in range(1, COUNTS[slow.slug] + 1)
    )
    assert requested(http_server, slow) == 1  # nothing new was started after SIGTERM


def test_steady_state_304_polls_log_nothing_at_info(
    tmp_path: Path, http_server: HttpServer
) -> None:
    """Config-selected JSON logs: the first poll says what it did, the 304s that follow don't."""
    serve_shows(http_server, COUNTS)
    cfg = daemon_config(tmp_path, http_server, interval="1s", extra="log:\n  format: json\n")
    with Daemon(cfg, log_format=None) as daemon:
        daemon.wait(
            lambda: all(requested(http_server, s) >= 4 for s in SHOWS), 60, "four polls of each"
        )
        lines = daemon.lines()
        assert daemon.stop()[0] == 0
    for show in SHOWS:
        conditional = http_server.requests_to(f"/{show.slug}.xml")[1:]
        assert all(r.headers.get("If-None-Match") for r in conditional)
    info = Counter(d["event"] for d in lines if d["level"] == "info")
    assert info == Counter(
        {
            "database migrated": 1,
            "sources synced": 1,
            "serving HTTP": 1,
            "started": 1,
            "source polled": 5,
            "published": 1,
        }
    ), lines
    assert not [d for d in lines if d["level"] in ("warning", "error")]
    polled = {d["source"]: d for d in lines if d["event"] == "source polled"}
    assert set(polled) == {s.title for s in SHOWS}
    assert {d["status"] for d in polled.values()} == {"added"}
    assert polled[SHOWS[4].title]["added"] == str(COUNTS["datafrog"])


def test_env_selects_json_logs_over_the_config(tmp_path: Path, http_server: HttpServer) -> None:
    serve_shows(http_server, COUNTS)
    cfg = daemon_config(tmp_path, http_server, slugs=["pyweekly"], extra="log:\n  format: text\n")
    with Daemon(cfg, log_format="json") as daemon:
        daemon.wait(lambda: daemon.events("source polled"), 60, "the first poll")
        assert daemon.stop()[0] == 0
    lines = daemon.text().splitlines()
    assert lines and len(daemon.lines()) == len(lines)
    (polled,) = daemon.events("source polled")
    assert polled["source"] == SHOWS[0].title
    assert polled["logger"] == "aggregator.update"
    assert polled["time"].endswith("+00:00")


@pytest.mark.postgres
def test_watchdog_and_readyz_stop_while_the_database_does_not_answer(
    tmp_path: Path, http_server: HttpServer, notify: NotifySocket, pg_url: str
) -> None:
    """The database behind a relay that can hold its bytes: a hung database, for real."""
    url = make_url(pg_url)
    proxy = PausableProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        serve_shows(http_server, COUNTS)
        cfg = daemon_config(
            tmp_path, http_server, slugs=["pyweekly"], extra=f"database: '{through}'\n"
        )
        with Daemon(cfg, notify=notify, env={"WATCHDOG_USEC": "600000"}) as daemon:
            daemon.wait(lambda: len(notify.with_key("WATCHDOG")) >= 3, 60, "watchdog pings")
            assert daemon.get("/readyz").status_code == 200

            proxy.pause()
            before = len(notify.with_key("WATCHDOG"))
            hung = daemon.get("/readyz")  # answers after its 5 s database timeout
            assert (hung.status_code, hung.text) == (503, "not ready\n")
            daemon.wait(lambda: daemon.events("watchdog skipped"), 15, "a skipped watchdog")
            # At most the ping that had already passed its check when the relay paused.
            assert len(notify.with_key("WATCHDOG")) <= before + 1
            assert daemon.get("/healthz").status_code == 200  # alive, just not ready

            paused_count = len(notify.with_key("WATCHDOG"))
            proxy.resume()
            daemon.wait(
                lambda: len(notify.with_key("WATCHDOG")) >= paused_count + 2,
                30,
                "pings once the database answers again",
            )
            assert daemon.get("/readyz").status_code == 200
            assert daemon.stop()[0] == 0
    finally:
        proxy.close()
