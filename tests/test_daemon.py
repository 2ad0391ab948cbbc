"""`aggregator run` as a real process: serves the merged feed after its first poll, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import feedparser
import httpx
import pytest

from feedgen import SHOWS
from httpserver import HttpServer
from support import COUNTS, closed_port, serve_shows, wait_for, write_config

pytestmark = pytest.mark.slow


def fetch_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_daemon_serves_feed_after_first_poll_and_stops_cleanly(
    tmp_path: Path, http_server: HttpServer
) -> None:
    serve_shows(http_server, COUNTS)
    port = closed_port()
    cfg = write_config(tmp_path, http_server, listen=f"127.0.0.1:{port}")
    env = dict(os.environ, AGGREGATOR_LOG_LEVEL="INFO")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "run", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: fetch_ok(f"{base}/feed.xml") or proc.poll() is not None,
            60,
            "the merged feed to be served",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        response = httpx.get(f"{base}/feed.xml", headers={"Accept-Encoding": "gzip"})
        assert response.headers["content-encoding"] == "gzip"
        parsed = feedparser.parse(response.content)
        assert parsed.bozo == 0
        assert len(parsed.entries) == sum(COUNTS.values())
        assert {e.source.title for e in parsed.entries} == {s.title for s in SHOWS}
        again = httpx.get(f"{base}/feed.xml", headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert (
            httpx.get(f"{base}/feed.json")
            .json()["version"]
            .startswith("https://jsonfeed.org/version/1.1")
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped" in err
