"""Helpers shared by the end-to-end tests: config files, served shows, waiting on conditions."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from feedgen import SHOWS, render_feed
from httpserver import HttpServer

COUNTS = {"pyweekly": 12, "typecast": 8, "asyncio-hour": 20, "packaging-pod": 6, "datafrog": 30}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    tmp_path: Path,
    server: HttpServer,
    *,
    database: str | None = None,
    extra_feeds: str = "",
    listen: str = "127.0.0.1:0",
    max_items: int = 300,
) -> Path:
    feeds = "".join(
        f"  - name: {s.title!r}\n    url: {server.url(f'/{s.slug}.xml')}\n" for s in SHOWS
    )
    db = f"database: {database}\n" if database else ""
    cfg = tmp_path / "feeds.yaml"
    cfg.write_text(
        f"state_dir: state\n{db}listen: {listen}\nallow_private_addresses: true\n"
        f"poll:\n  timeout: 10s\nmerged_feed:\n  max_items: {max_items}\n"
        f"  link: http://127.0.0.1/\nfeeds:\n{feeds}{extra_feeds}"
    )
    return cfg


def serve_shows(server: HttpServer, counts: dict[str, int], **kw: object) -> None:
    for show in SHOWS:
        server.set(
            f"/{show.slug}.xml",
            render_feed(show, counts[show.slug]),
            content_type="application/rss+xml",
            **kw,
        )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for an observable condition (not for time), failing clearly at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
