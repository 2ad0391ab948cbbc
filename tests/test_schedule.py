import random
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.cli import main
from aggregator.config import load_settings
from aggregator.extract import SponsorRegistry
from aggregator.fetch import Fetcher
from aggregator.schedule import MAX_BACKOFF, Bounds, median_gap, next_check, posting_interval
from aggregator.store import NotModified, SourceState, Store
from aggregator.update import PollOutcome, Updater
from aggregator.writebatch import WriteBatch
from feedgen import SHOWS, render_feed
from httpserver import HttpServer
from support import closed_port

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
B = Bounds()


def test_no_history_uses_the_default_interval():
    due = next_check(NOW, bounds=B, rng=random.Random(1))
    assert timedelta(minutes=54) <= due - NOW <= timedelta(minutes=66)


def test_daily_show_is_checked_every_three_hours():
    days = [NOW - timedelta(days=i) for i in range(10)]
    gap = median_gap(days)
    assert gap == timedelta(days=1)
    assert posting_interval(gap, B) == timedelta(hours=3)


def test_weekly_show_daily_checks_and_the_bounds_hold():
    weekly = median_gap([NOW - timedelta(weeks=i) for i in range(5)])
    monthly = median_gap([NOW - timedelta(weeks=4 * i) for i in range(5)])
    hourly = median_gap([NOW - timedelta(hours=i) for i in range(5)])
    assert posting_interval(weekly, B) == timedelta(hours=21)
    assert posting_interval(monthly, B) == B.maximum
    assert posting_interval(hourly, B) == B.minimum


def test_median_gap_ignores_missing_and_duplicate_dates():
    assert median_gap([None, NOW, NOW]) is None
    assert median_gap([NOW, None, NOW - timedelta(hours=10)]) == timedelta(hours=10)


def test_ttl_and_max_age_raise_the_interval():
    due = next_check(NOW, bounds=B, ttl=timedelta(hours=6), rng=random.Random(2))
    assert timedelta(hours=5.4) <= due - NOW <= timedelta(hours=6.6)
    due = next_check(NOW, bounds=B, max_age=timedelta(hours=4), rng=random.Random(2))
    assert timedelta(hours=3.6) <= due - NOW <= timedelta(hours=4.4)


def test_retry_after_is_honoured():
    later = NOW + timedelta(hours=5)
    assert next_check(NOW, bounds=B, retry_after=later, rng=random.Random(3)) == later


def test_failures_back_off_exponentially_up_to_a_week():
    rng = random.Random(4)
    d1 = next_check(NOW, bounds=B, failures=1, rng=rng) - NOW
    d3 = next_check(NOW, bounds=B, failures=3, rng=rng) - NOW
    assert timedelta(hours=1.8) <= d1 <= timedelta(hours=2.2)
    assert timedelta(hours=7.2) <= d3 <= timedelta(hours=8.8)
    assert next_check(NOW, bounds=B, failures=40, rng=rng) - NOW <= MAX_BACKOFF


@given(
    gap_s=st.none() | st.integers(1, 10**8),
    ttl_s=st.none() | st.integers(1, 10**7),
    failures=st.integers(0, 100),
    seed=st.integers(0, 2**32),
)
def test_next_check_always_lands_in_bounds(gap_s, ttl_s, failures, seed):
    due = next_check(
        NOW,
        bounds=B,
        gap=timedelta(seconds=gap_s) if gap_s else None,
        ttl=timedelta(seconds=ttl_s) if ttl_s else None,
        failures=failures,
        rng=random.Random(seed),
    )
    cap = MAX_BACKOFF if failures else B.maximum
    assert NOW + B.minimum <= due <= NOW + cap


# --- failure policy: the Updater against a loopback server, a SQLite file and a fake clock ---


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """One Updater wired as the daemon wires it, with time under the test's control."""

    def __init__(self, tmp_path: Path, feeds: dict[str, str], extra: str = "") -> None:
        self.clock = FakeClock(NOW)
        self.cfg = tmp_path / "feeds.yaml"
        self.write_config(feeds, extra)
        self.settings = load_settings(self.cfg)
        self.store = Store(self.settings.database_url)
        self.store.upgrade()
        self.store.sync_sources(self.settings, self.clock())
        self.fetcher = Fetcher(allow_private_addresses=True, timeout=5, now=self.clock)
        self.updater = Updater(
            self.store,
            self.fetcher,
            self.settings,
            registry=SponsorRegistry.default(),
            clock=self.clock,
            rng=random.Random(7),
        )

    def write_config(self, feeds: dict[str, str], extra: str = "") -> None:
        entries = "".join(f"  - name: {n}\n    url: {u}\n" for n, u in feeds.items())
        self.cfg.write_text(
            f"state_dir: state\nallow_private_addresses: true\n{extra}feeds:\n{entries}"
        )

    def source(self, name: str) -> SourceState:
        return next(s for s in self.store.all_sources() if s.name == name)

    async def poll(self, *names: str) -> list[PollOutcome]:
        return await self.updater.poll_many([self.source(n) for n in names])

    async def close(self) -> None:
        await self.fetcher.aclose()
        self.store.close()


@pytest.fixture
async def harness_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(feeds: dict[str, str], extra: str = "") -> Harness:
        made.append(Harness(tmp_path, feeds, extra))
        return made[-1]

    yield make
    for h in made:
        await h.close()


def feed_bytes(count: int = 3) -> bytes:
    return render_feed(SHOWS[0], count)


@pytest.mark.anyio
async def test_consecutive_failures_double_the_wait_up_to_a_week_then_success_resets(
    http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    http_server.respond("/feed.xml", 500)
    h = harness_factory({"Show": http_server.url("/feed.xml")})
    waits = []
    for _ in range(10):
        (outcome,) = await h.poll("Show")
        assert outcome.status == "failed"
        src = h.source("Show")
        waits.append(src.next_check_at - h.clock.now)
        h.clock.now = src.next_check_at  # the daemon would poll it exactly then
    assert h.source("Show").consecutive_failures == 10
    for n, wait in enumerate(waits, start=1):
        expected = min(timedelta(hours=2**n), MAX_BACKOFF)  # default interval 1 h
        assert expected * 0.9 <= wait <= min(expected * 1.1, MAX_BACKOFF), (n, wait)
    assert waits[-1] > timedelta(days=6)
    assert len({w for w in waits}) == len(waits)  # jittered, never in lock-step

    http_server.set("/feed.xml", feed_bytes(), content_type="application/rss+xml")
    (outcome,) = await h.poll("Show")
    assert outcome.status == "added"
    src = h.source("Show")
    assert (src.consecutive_failures, src.last_error) == (0, None)
    assert src.next_check_at - h.clock.now <= timedelta(hours=24)


@pytest.mark.anyio
async def test_410_gone_mutes_the_source_and_status_reports_it(
    http_server: HttpServer,
    harness_factory: Callable[[dict[str, str]], Harness],
    capsys: pytest.CaptureFixture[str],
) -> None:
    http_server.respond("/gone.xml", 410)
    http_server.set("/live.xml", feed_bytes(), content_type="application/rss+xml")
    h = harness_factory(
        {"Gone": http_server.url("/gone.xml"), "Live": http_server.url("/live.xml")}
    )
    await h.poll("Gone", "Live")
    gone = h.source("Gone")
    assert (gone.muted, gone.muted_reason, gone.last_status) == (True, "HTTP 410 Gone", 410)
    h.clock.now += timedelta(days=30)
    assert [s.name for s in h.store.due_sources(h.clock.now)] == ["Live"]

    assert main(["status", "--config", str(h.cfg)]) == 0
    rows = {r.split("\t")[0]: r.split("\t") for r in capsys.readouterr().out.splitlines()}
    assert rows["Gone"][2] == "muted"
    assert rows["Gone"][4] == "-"  # never polled again until its URL changes
    assert rows["Gone"][5] == "HTTP 410 Gone"
    assert rows["Live"][2] == "ok"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_or_as_a_date_is_honoured(
    status: int, http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    h = harness_factory({"Busy": http_server.url("/busy.xml")})
    http_server.respond("/busy.xml", status, headers={"Retry-After": str(3 * 86400)})
    (outcome,) = await h.poll("Busy")
    assert outcome.error and outcome.error.startswith(f"HTTP {status}")
    assert h.source("Busy").next_check_at == NOW + timedelta(days=3)

    h.clock.now = NOW + timedelta(days=3)
    later = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)
    http_server.respond(
        "/busy.xml", status, headers={"Retry-After": "Fri, 06 Mar 2026 09:30:00 GMT"}
    )
    await h.poll("Busy")
    assert h.source("Busy").next_check_at == later

    h.clock.now = later
    http_server.respond("/busy.xml", status, headers={"Retry-After": "60"})
    await h.poll("Busy")  # third failure: backoff (8 h) is later than 60 s, and wins
    wait = h.source("Busy").next_check_at - later
    assert timedelta(hours=7.2) <= wait <= timedelta(hours=8.8)
    assert h.source("Busy").consecutive_failures == 3


def test_retry_after_beyond_the_backoff_cap_is_capped() -> None:
    far = NOW + timedelta(days=60)
    assert next_check(NOW, bounds=B, retry_after=far, failures=1) == NOW + MAX_BACKOFF


@pytest.mark.anyio
async def test_a_permanent_redirect_updates_the_url_and_a_temporary_one_does_not(
    http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    body = feed_bytes()
    http_server.set("/new.xml", body, content_type="application/rss+xml")
    http_server.redirect("/old.xml", "/new.xml", status=301)
    http_server.redirect("/tmp.xml", "/new-tmp.xml", status=302)
    http_server.set("/new-tmp.xml", feed_bytes(2), content_type="application/rss+xml")
    h = harness_factory(
        {"Moved": http_server.url("/old.xml"), "Visiting": http_server.url("/tmp.xml")}
    )
    await h.poll("Moved", "Visiting")
    assert h.source("Moved").url == http_server.url("/new.xml")
    assert h.source("Moved").original_url == http_server.url("/old.xml")
    assert h.source("Visiting").url == http_server.url("/tmp.xml")

    http_server.reset_log()
    await h.poll("Moved")
    assert [r.path for r in http_server.requests] == ["/new.xml"]


@pytest.mark.anyio
async def test_a_permanent_redirect_to_a_304_still_updates_the_url(
    http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    """The new place knows our validators (same ETag): the answer is 304, the move is real."""
    body = feed_bytes()
    http_server.set("/old.xml", body, content_type="application/rss+xml")
    h = harness_factory({"Moved": http_server.url("/old.xml")})
    await h.poll("Moved")
    http_server.set("/new.xml", body, content_type="application/rss+xml")
    http_server.redirect("/old.xml", "/new.xml", status=308)
    (outcome,) = await h.poll("Moved")
    assert outcome.status == "not_modified"
    src = h.source("Moved")
    assert src.url == http_server.url("/new.xml")
    assert src.etag  # kept for the next conditional request
    assert src.consecutive_failures == 0


@pytest.mark.anyio
async def test_when_every_source_fails_at_once_none_is_penalised(
    harness_factory: Callable[[dict[str, str]], Harness], capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = {f"Show {i}": f"http://127.0.0.1:{closed_port()}/feed.xml" for i in range(3)}
    h = harness_factory(feeds)
    outcomes = await h.poll(*feeds)
    assert [o.status for o in outcomes] == ["failed"] * 3
    assert all(o.network for o in outcomes)
    for name in feeds:
        src = h.source(name)
        assert src.consecutive_failures == 0
        assert src.last_error == "connection refused"
        assert src.next_check_at - NOW <= timedelta(hours=1.1)  # the normal interval
    assert main(["status", "--config", str(h.cfg)]) == 0
    states = {r.split("\t")[0]: r.split("\t")[2] for r in capsys.readouterr().out.splitlines()}
    assert states == dict.fromkeys(feeds, "failed (network down)")


@pytest.mark.anyio
async def test_network_down_is_seen_across_polls_of_one_source_each(
    http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    """The daemon's ticks usually poll one due source at a time: the outage is seen when a
    second source in a row fails for network reasons with no server answering between."""
    http_server.set("/up.xml", feed_bytes(), content_type="application/rss+xml")
    dead = {f"Dead {i}": f"http://127.0.0.1:{closed_port()}/feed.xml" for i in range(4)}
    h = harness_factory({**dead, "Up": http_server.url("/up.xml")})
    await h.poll("Dead 0")
    await h.poll("Dead 1")
    await h.poll("Dead 2")
    failures = {n: h.source(n).consecutive_failures for n in ("Dead 0", "Dead 1", "Dead 2")}
    # The first could have been one dead host; from the second on it is the network.
    assert failures == {"Dead 0": 1, "Dead 1": 0, "Dead 2": 0}
    assert h.updater.offline

    await h.poll("Up")  # a server answers: the network is back
    assert not h.updater.offline
    await h.poll("Dead 3")
    assert h.source("Dead 3").consecutive_failures == 1


@pytest.mark.anyio
async def test_one_dead_host_among_live_ones_is_penalised(
    http_server: HttpServer, harness_factory: Callable[[dict[str, str]], Harness]
) -> None:
    http_server.set("/up.xml", feed_bytes(), content_type="application/rss+xml")
    h = harness_factory(
        {"Dead": f"http://127.0.0.1:{closed_port()}/feed.xml", "Up": http_server.url("/up.xml")}
    )
    await h.poll("Dead", "Up")
    assert h.source("Dead").consecutive_failures == 1
    assert h.source("Up").consecutive_failures == 0


@pytest.mark.anyio
async def test_a_304_waiting_for_its_batched_write_frees_its_place_for_the_next_fetch(
    http_server: HttpServer, harness_factory: Callable[..., Harness]
) -> None:
    """With one place, the second source's request goes out while the first one's 304 waits
    for its write, so both land in one transaction (the batch is full at two)."""
    for path in ("/a.xml", "/b.xml"):
        http_server.set(path, feed_bytes(), content_type="application/rss+xml")
    h = harness_factory(
        {"A": http_server.url("/a.xml"), "B": http_server.url("/b.xml")},
        "poll:\n  concurrency: 1\n",
    )
    assert [o.status for o in await h.poll("A", "B")] == ["added", "added"]
    batches: list[int] = []

    def write(items: Sequence[NotModified]) -> None:
        batches.append(len(items))
        h.store.record_not_modified_many(items)

    h.updater._not_modified = WriteBatch(write, size=2, delay=5)
    assert [o.status for o in await h.poll("A", "B")] == ["not_modified", "not_modified"]
    assert batches == [2]
    assert [h.source(n).last_status for n in ("A", "B")] == [304, 304]
