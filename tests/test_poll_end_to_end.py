"""The core slice as a user runs it: feeds.yaml -> `aggregator poll --once` -> database -> merged feed.

Everything is real: feeds served by an HTTP server on 127.0.0.1, the CLI entry point, a
SQLite file (and PostgreSQL for the storage-level run), the published files on disk.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import feedparser
import podcastparser
import pytest

from aggregator.cli import main
from aggregator.store import Store
from feedgen import SHOWS, episode_guid
from httpserver import HttpServer
from support import COUNTS, closed_port, serve_shows, wait_for, write_config


def poll(cfg: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["poll", "--once", "--config", str(cfg)]) == 0
    return capsys.readouterr().out


def stored_guids(url: str) -> list[str]:
    store = Store(url)
    try:
        return [item.episode.guid or "" for item in store.latest_episodes(100_000)]
    finally:
        store.close()


def test_poll_once_stores_all_then_sends_conditional_requests_then_adds_one(
    tmp_path: Path, http_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_shows(http_server, COUNTS)
    down = f"  - name: Down Show\n    url: http://127.0.0.1:{closed_port()}/feed.xml\n"
    cfg = write_config(tmp_path, http_server, extra_feeds=down)
    db_url = f"sqlite:///{tmp_path / 'state' / 'aggregator.db'}"

    out = poll(cfg, capsys)
    total = sum(COUNTS.values())
    assert f"{total} episodes added" in out
    assert "1 failed" in out
    guids = stored_guids(db_url)
    assert sorted(guids) == sorted(
        episode_guid(s, n) for s in SHOWS for n in range(1, COUNTS[s.slug] + 1)
    )
    feed_xml = tmp_path / "state" / "public" / "feed.xml"
    first = feed_xml.read_bytes()

    http_server.reset_log()
    out = poll(cfg, capsys)
    assert "0 episodes added, 0 updated" in out
    for show in SHOWS:
        (request,) = http_server.requests_to(f"/{show.slug}.xml")
        assert request.headers.get("If-None-Match"), show.slug
    assert len(stored_guids(db_url)) == total
    assert feed_xml.read_bytes() == first

    grown = dict(COUNTS, typecast=COUNTS["typecast"] + 1)
    serve_shows(http_server, grown)
    out = poll(cfg, capsys)
    assert "1 episodes added, 0 updated" in out
    guids = stored_guids(db_url)
    assert len(guids) == total + 1
    assert episode_guid(SHOWS[1], 9) in guids

    parsed = feedparser.parse(feed_xml.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == total + 1
    assert len({e.id for e in parsed.entries}) == total + 1
    podcast = podcastparser.parse("http://127.0.0.1/feed.xml", io.BytesIO(feed_xml.read_bytes()))
    assert len(podcast["episodes"]) == total + 1
    for ep in podcast["episodes"]:
        assert ep["enclosures"][0]["url"].endswith(".mp3")
        assert ep["enclosures"][0]["file_size"] > 1_000_000
        assert ep["total_time"] > 0
        assert ep["number"] is not None


def test_status_lists_the_failing_source(
    tmp_path: Path, http_server: HttpServer, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_shows(http_server, COUNTS)
    http_server.respond(
        "/broken.xml",
        200,
        body=b"<html><body>not a feed</body></html>",
        headers={"Content-Type": "text/html"},
    )
    broken = f"  - name: Broken Show\n    url: {http_server.url('/broken.xml')}\n"
    cfg = write_config(tmp_path, http_server, extra_feeds=broken)
    out = poll(cfg, capsys)
    assert f"{sum(COUNTS.values())} episodes added" in out
    assert main(["status", "--config", str(cfg)]) == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in capsys.readouterr().out.splitlines()}
    assert lines["Broken Show"][2] == "failing x1"
    assert "not a usable document" in lines["Broken Show"][5]
    assert lines["Py Weekly Roundtable"][2] == "ok"


@pytest.mark.postgres
def test_poll_once_on_postgresql(
    tmp_path: Path, http_server: HttpServer, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_shows(http_server, COUNTS)
    cfg = write_config(tmp_path, http_server, database=pg_url)
    poll(cfg, capsys)
    poll(cfg, capsys)
    assert len(stored_guids(pg_url)) == sum(COUNTS.values())


@pytest.mark.slow
def test_kill_9_during_polls_loses_and_duplicates_nothing(
    tmp_path: Path, http_server: HttpServer
) -> None:
    """SIGKILL a real `poll --once` process after a random number of feed requests, restart."""
    serve_shows(http_server, COUNTS, delay=0.05)
    cfg = write_config(tmp_path, http_server)
    db_url = f"sqlite:///{tmp_path / 'state' / 'aggregator.db'}"
    cmd = [sys.executable, "-m", "aggregator", "poll", "--once", "--config", str(cfg)]
    env = dict(os.environ, AGGREGATOR_LOG_LEVEL="WARNING")
    rng = random.Random(20261121)
    for _round in range(4):
        http_server.reset_log()
        after = rng.randint(1, len(SHOWS))
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(
            lambda after=after, proc=proc: (
                len(http_server.requests) >= after or proc.poll() is not None
            ),
            30,
            f"{after} feed requests",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finished = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    guids = stored_guids(db_url)
    assert len(guids) == len(set(guids)) == sum(COUNTS.values())
    parsed = feedparser.parse((tmp_path / "state" / "public" / "feed.xml").read_bytes())
    assert parsed.bozo == 0
    assert len(parsed.entries) == sum(COUNTS.values())
