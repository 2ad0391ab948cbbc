"""Prometheus metrics: the instruments, who may scrape them, and a live daemon's counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator.metrics import Metrics, peer_may_scrape
from aggregator.store import SourceHealth
from aggregator.update import PollOutcome
from aggregator.web import build_app, start_server
from daemonproc import Daemon, daemon_config
from feedgen import SHOWS, render_feed
from httpserver import HttpServer
from support import COUNTS, serve_shows

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` from the exposition format."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_poll_outcomes_feed_counters_and_the_histogram() -> None:
    m = Metrics()
    m.observe_polls(
        [
            PollOutcome("a", "added", added=3, fetch_seconds=0.2, fetched_bytes=1000),
            PollOutcome("b", "not_modified", fetch_seconds=0.03, fetched_bytes=0),
            PollOutcome("c", "failed", error="HTTP 500", fetch_seconds=7.0),
            PollOutcome("d", "failed", error="lease lost"),  # no request made: no duration
        ]
    )
    text = m.render()[0].decode()
    assert value(text, "aggregator_polls_total", outcome="added") == 1
    assert value(text, "aggregator_polls_total", outcome="not_modified") == 1
    assert value(text, "aggregator_polls_total", outcome="failed") == 2
    assert value(text, "aggregator_polls_total", outcome="updated") == 0
    assert value(text, "aggregator_episodes_added_total") == 3
    assert value(text, "aggregator_fetched_bytes_total") == 1000
    assert value(text, "aggregator_fetch_duration_seconds_count") == 3
    assert value(text, "aggregator_fetch_duration_seconds_bucket", le="0.05") == 1
    assert value(text, "aggregator_fetch_duration_seconds_bucket", le="0.25") == 2
    assert value(text, "aggregator_fetch_duration_seconds_bucket", le="5.0") == 2
    assert value(text, "aggregator_fetch_duration_seconds_bucket", le="10.0") == 3


def test_source_gauges_follow_the_database_and_forget_removed_sources() -> None:
    m = Metrics()
    later = T0 + timedelta(hours=1)
    m.observe_sources(SourceHealth(3, 1, 1, (("ok", T0), ("also ok", T0))), complete=True)
    m.observe_digests(2)
    text = m.render()[0].decode()
    assert value(text, "aggregator_sources") == 3
    assert value(text, "aggregator_failing_sources") == 1
    assert value(text, "aggregator_muted_sources") == 1
    assert value(text, "aggregator_digests_sent_total") == 2
    last = "aggregator_source_last_success_timestamp_seconds"
    assert value(text, last, source="ok") == T0.timestamp()

    # A partial read updates the sources it lists and keeps the others.
    m.observe_sources(SourceHealth(3, 1, 0, (("ok", later),)), complete=False)
    text = m.render()[0].decode()
    assert value(text, last, source="ok") == later.timestamp()
    assert value(text, last, source="also ok") == T0.timestamp()
    assert value(text, "aggregator_failing_sources") == 0

    # A complete read forgets the sources it no longer lists.
    m.observe_sources(SourceHealth(1, 0, 0, (("ok", later),)), complete=True)
    text = m.render()[0].decode()
    assert value(text, last, source="also ok") is None
    assert value(text, last, source="ok") == later.timestamp()
    assert value(text, "aggregator_sources") == 1


@pytest.mark.parametrize(
    ("peer", "public", "allowed"),
    [
        ("127.0.0.1", False, True),
        ("127.8.9.10", False, True),
        ("::1", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("192.168.1.20", False, False),
        ("10.0.0.5", False, False),
        ("2001:db8::1", False, False),
        ("::ffff:192.168.1.20", False, False),
        (None, False, False),
        ("", False, False),
        ("not-an-address", False, False),
        ("192.168.1.20", True, True),
    ],
)
def test_only_loopback_peers_may_scrape_unless_public(
    peer: str | None, public: bool, allowed: bool
) -> None:
    assert peer_may_scrape(peer, public=public) is allowed


@pytest.mark.anyio
async def test_metrics_route_serves_the_exposition_format(tmp_path: Path) -> None:
    m = Metrics()
    m.observe_polls([PollOutcome("a", "added", added=2, fetch_seconds=0.1, fetched_bytes=10)])
    server = await start_server(build_app(tmp_path, metrics=m), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.stop()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    assert value(r.text, "aggregator_episodes_added_total") == 2
    assert value(r.text, "process_resident_memory_bytes") is not None


@pytest.mark.anyio
async def test_no_metrics_route_without_metrics(tmp_path: Path) -> None:
    server = await start_server(build_app(tmp_path), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.stop()
    assert r.status_code == 404


@pytest.mark.slow
def test_a_live_daemons_counters_move_as_polls_happen(
    tmp_path: Path, http_server: HttpServer
) -> None:
    first, second = SHOWS[0], SHOWS[1]
    serve_shows(http_server, COUNTS)
    missing = f"  - name: Missing Show\n    url: {http_server.url('/missing.xml')}\n"
    cfg = daemon_config(
        tmp_path, http_server, slugs=[first.slug, second.slug], extra_feeds=missing, interval="1s"
    )
    with Daemon(cfg) as daemon:

        def scrape() -> str:
            return daemon.get("/metrics").text

        def polls(outcome: str) -> float:
            return value(scrape(), "aggregator_polls_total", outcome=outcome) or 0

        daemon.wait(daemon.answers, 60, "the HTTP server")
        daemon.wait(lambda: polls("added") == 2 and polls("failed") >= 1, 60, "the first poll")
        text = scrape()
        assert (
            value(text, "aggregator_episodes_added_total")
            == COUNTS[first.slug] + COUNTS[second.slug]
        )
        assert value(text, "aggregator_sources") == 3
        assert value(text, "aggregator_failing_sources") == 1
        assert (value(text, "aggregator_fetched_bytes_total") or 0) > 0
        stamps = {
            dict(labels)["source"]
            for (name, labels) in samples(text)
            if name == "aggregator_source_last_success_timestamp_seconds"
        }
        assert stamps == {first.title, second.title}

        daemon.wait(lambda: polls("not_modified") >= 2, 30, "conditional re-polls")
        http_server.set(
            f"/{first.slug}.xml",
            render_feed(first, COUNTS[first.slug] + 1),
            content_type="application/rss+xml",
        )
        daemon.wait(lambda: polls("added") == 3, 30, "the poll that finds the new episode")
        text = scrape()
        assert value(text, "aggregator_episodes_added_total") == (
            COUNTS[first.slug] + COUNTS[second.slug] + 1
        )
        total = sum(
            value(text, "aggregator_polls_total", outcome=o) or 0
            for o in ("added", "updated", "unchanged", "not_modified", "failed")
        )
        assert value(text, "aggregator_fetch_duration_seconds_count") == total
        assert daemon.stop()[0] == 0
