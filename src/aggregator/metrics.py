"""Prometheus instruments for the daemon, on a registry of their own.

A private registry (not prometheus-client's global one) keeps two daemons in one test
process apart and leaves out the client's default process collectors' surprises. The
daemon feeds it from poll outcomes and source rows; ``/metrics`` renders it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector

from aggregator.store import SourceHealth
from aggregator.update import PollOutcome

OUTCOMES = ("added", "updated", "unchanged", "not_modified", "failed")
# Loopback answers in milliseconds, slow podcast hosts in tens of seconds.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Every instrument the daemon exports, and how they are fed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # memory, CPU, open files of the daemon process
        self.polls = Counter(
            "aggregator_polls", "Source polls by outcome.", ["outcome"], registry=r
        )
        for outcome in OUTCOMES:
            self.polls.labels(outcome)
        self.fetch_seconds = Histogram(
            "aggregator_fetch_duration_seconds",
            "Time to fetch a source, redirects included.",
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.fetched_bytes = Counter(
            "aggregator_fetched_bytes", "Bytes read from the network for sources.", registry=r
        )
        self.episodes_added = Counter(
            "aggregator_episodes_added", "Episodes seen for the first time.", registry=r
        )
        self.digests_sent = Counter(
            "aggregator_digests_sent", "Digest messages handed to the SMTP server.", registry=r
        )
        self.sources = Gauge("aggregator_sources", "Active sources.", registry=r)
        self.failing = Gauge(
            "aggregator_failing_sources",
            "Active, unmuted sources whose last poll failed.",
            registry=r,
        )
        self.muted = Gauge("aggregator_muted_sources", "Sources muted after 410 Gone.", registry=r)
        self.last_success = Gauge(
            "aggregator_source_last_success_timestamp_seconds",
            "When each source was last polled successfully (Unix time).",
            ["source"],
            registry=r,
        )
        self._known: set[str] = set()

    def observe_polls(self, outcomes: Iterable[PollOutcome]) -> None:
        for o in outcomes:
            self.polls.labels(o.status).inc()
            self.episodes_added.inc(o.added)
            self.fetched_bytes.inc(o.fetched_bytes)
            if o.fetch_seconds is not None:
                self.fetch_seconds.observe(o.fetch_seconds)

    def observe_sources(self, health: SourceHealth, *, complete: bool) -> None:
        """Gauges from the database's view, so they agree across instances and restarts.
        ``complete``: ``health`` lists every source's last success, so sources it leaves
        out are gone; otherwise only those that succeeded lately, the rest keep their value."""
        self.sources.set(health.active)
        self.muted.set(health.muted)
        self.failing.set(health.failing)
        for name, at in health.successes:
            self.last_success.labels(name).set(at.timestamp())
        seen = {name for name, _ in health.successes}
        if complete:
            for gone in self._known - seen:
                self.last_success.remove(gone)
            self._known = seen
        else:
            self._known |= seen

    def observe_digests(self, sent: int) -> None:
        self.digests_sent.inc(sent)

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def peer_may_scrape(peer: str | None, *, public: bool) -> bool:
    """Metrics reveal feed names and timings: loopback peers only unless made public."""
    if public:
        return True
    if not peer:
        return False
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False  # a Unix socket peer or something unexpected: refuse
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
