"""Sources in the store: config sync, due selection with leases, poll outcomes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from aggregator.config import Settings
from aggregator.model import Episode, FeedInfo
from aggregator.store import NotModified, SourceState, Store
from aggregator.store import tables as t
from racing import race

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ALPHA = "https://alpha.example/feed.xml"
BETA = "https://beta.example/rss"
PAGE = "https://beta.example/episodes/"


def settings(feeds: Sequence[tuple[str, str]], pages: Sequence[tuple[str, str]] = ()) -> Settings:
    return Settings.model_validate(
        {
            "feeds": [{"name": n, "url": u, "follow_pages": n == "Beta"} for n, u in feeds],
            "pages": [{"show": s, "url": u} for s, u in pages],
        }
    )


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def by_name(store: Store) -> dict[str, SourceState]:
    return {s.url: s for s in store.all_sources()}


def test_sync_adds_feeds_and_pages_due_now(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)], [("Beta", PAGE)]), NOW)
    got = {
        s.url: (s.kind, s.name, s.show, s.follow_pages, s.active, s.next_check_at)
        for s in store.all_sources()
    }
    assert got == {
        ALPHA: ("feed", "Alpha", "Alpha", False, True, NOW),
        BETA: ("feed", "Beta", "Beta", True, True, NOW),
        PAGE: ("page", "Beta", "Beta", False, True, NOW),
    }
    src = by_name(store)[ALPHA]
    assert (src.original_url, src.consecutive_failures, src.muted, src.created_at) == (
        ALPHA,
        0,
        False,
        NOW,
    )


def test_removed_source_is_deactivated_keeping_episodes_then_reactivated(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)]), NOW)
    beta = by_name(store)[BETA]
    store.upsert_episodes(beta.id, [Episode(show="Beta", title="One", guid="b-1")], now=NOW)
    store.record_success(beta.id, now=NOW, next_check_at=NOW + timedelta(days=9))

    store.sync_sources(settings([("Alpha", ALPHA)]), NOW + timedelta(hours=1))
    assert by_name(store)[BETA].active is False
    assert store.episode_count() == 1
    assert [s.url for s in store.due_sources(NOW + timedelta(days=30))] == [ALPHA]

    later = NOW + timedelta(hours=2)
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)]), later)
    again = by_name(store)[BETA]
    assert (again.id, again.active, again.next_check_at) == (beta.id, True, later)


def test_source_moved_by_permanent_redirect_keeps_matching_its_config_entry(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    alpha = by_name(store)[ALPHA]
    moved = "https://new.alpha.example/feed"
    store.record_success(alpha.id, now=NOW, next_check_at=NOW + timedelta(hours=1), url=moved)
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW + timedelta(minutes=5))
    [src] = store.all_sources()
    assert (src.id, src.url, src.original_url, src.active) == (alpha.id, moved, ALPHA, True)


def test_feed_url_edited_in_config_keeps_the_source_and_unmutes_it(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    alpha = by_name(store)[ALPHA]
    store.record_failure(
        alpha.id, now=NOW, next_check_at=NOW, error="410 Gone", status=410, gone=True
    )
    edited = "https://alpha.example/podcast.rss"
    store.sync_sources(settings([("Alpha", edited)]), NOW + timedelta(minutes=1))
    [src] = store.all_sources()
    assert (src.id, src.url, src.original_url, src.muted, src.etag) == (
        alpha.id,
        edited,
        edited,
        False,
        None,
    )
    assert src.next_check_at == NOW + timedelta(minutes=1)


def test_due_sources_are_active_unmuted_and_due_oldest_first(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)], [("Beta", PAGE)]), NOW)
    s = by_name(store)
    store.record_success(s[ALPHA].id, now=NOW, next_check_at=NOW + timedelta(minutes=30))
    store.record_success(s[BETA].id, now=NOW, next_check_at=NOW + timedelta(minutes=10))
    store.record_failure(
        s[PAGE].id, now=NOW, next_check_at=NOW, error="gone", status=410, gone=True
    )

    assert store.due_sources(NOW + timedelta(minutes=5)) == []
    due = store.due_sources(NOW + timedelta(hours=1))
    assert [d.url for d in due] == [BETA, ALPHA]
    assert [d.url for d in store.due_sources(NOW + timedelta(hours=1), limit=1)] == [BETA]


def test_a_leased_source_is_not_handed_to_another_owner_until_the_lease_expires(
    store: Store,
) -> None:
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)]), NOW)
    lease = timedelta(minutes=10)
    first = store.due_sources(NOW, owner="a", lease=lease)
    assert sorted(s.url for s in first) == [ALPHA, BETA]
    assert {(s.lease_owner, s.lease_until) for s in first} == {("a", NOW + lease)}
    assert store.due_sources(NOW + timedelta(minutes=5), owner="b", lease=lease) == []
    assert store.due_sources(NOW + timedelta(minutes=5), owner="a", lease=lease) == []

    taken = store.due_sources(NOW + timedelta(minutes=10), owner="b", lease=lease)
    assert sorted(s.url for s in taken) == [ALPHA, BETA]
    assert {s.lease_owner for s in taken} == {"b"}


def test_recording_an_outcome_frees_the_lease(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.due_sources(NOW, owner="a", lease=timedelta(hours=1))
    store.record_not_modified(src.id, now=NOW, next_check_at=NOW + timedelta(minutes=1))
    [after] = store.all_sources()
    assert (after.lease_owner, after.lease_until) == (None, None)
    assert [
        s.id
        for s in store.due_sources(NOW + timedelta(minutes=1), owner="b", lease=timedelta(hours=1))
    ] == [src.id]


def test_concurrent_claimers_never_share_a_source(store: Store) -> None:
    feeds = [(f"Show {i}", f"https://s{i}.example/feed") for i in range(40)]
    store.sync_sources(settings(feeds), NOW)
    owners = [f"worker-{i}" for i in range(4)]

    def claim(owner: str) -> list[int]:
        got: list[int] = []
        for _ in range(5):
            got += [
                s.id
                for s in store.due_sources(NOW, limit=3, owner=owner, lease=timedelta(minutes=5))
            ]
        return got

    claims = dict(zip(owners, race(claim, [(o,) for o in owners]), strict=True))
    every = [i for ids in claims.values() for i in ids]
    assert len(every) == len(set(every))
    # 4 owners x 5 rounds x 3 = 60 slots for 40 sources: all claimed, each once.
    assert len(every) == 40
    rows = {s.id: s.lease_owner for s in store.all_sources()}
    assert all(rows[i] == owner for owner, ids in claims.items() for i in ids)


def test_failures_count_up_and_success_resets(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.all_sources()
    later = NOW + timedelta(hours=1)
    store.record_failure(src.id, now=NOW, next_check_at=later, error="HTTP 500", status=500)
    store.record_failure(src.id, now=NOW, next_check_at=later, error="timeout", status=None)
    store.record_failure(
        src.id, now=NOW, next_check_at=later, error="offline", status=None, count=False
    )
    [s] = store.all_sources()
    assert (
        s.consecutive_failures,
        s.last_error,
        s.last_status,
        s.last_checked_at,
        s.next_check_at,
    ) == (
        2,
        "offline",
        None,
        NOW,
        later,
    )
    assert s.muted is False

    store.record_success(
        src.id,
        now=later,
        next_check_at=later + timedelta(hours=1),
        etag='"v1"',
        last_modified="Wed, 01 May 2024 12:00:00 GMT",
        content_hash="abc",
        ttl_seconds=3600,
        avg_post_interval_s=86400,
    )
    [s] = store.all_sources()
    assert (s.consecutive_failures, s.last_error, s.last_status, s.last_success_at) == (
        0,
        None,
        200,
        later,
    )
    assert (s.etag, s.last_modified, s.content_hash, s.ttl_seconds, s.avg_post_interval_s) == (
        '"v1"',
        "Wed, 01 May 2024 12:00:00 GMT",
        "abc",
        3600,
        86400,
    )


def test_not_modified_keeps_validators_the_server_did_not_repeat(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.all_sources()
    store.record_success(
        src.id, now=NOW, next_check_at=NOW, etag='"v1"', last_modified="lm1", content_hash="h1"
    )
    store.record_failure(src.id, now=NOW, next_check_at=NOW, error="HTTP 503", status=503)
    store.record_not_modified(src.id, now=NOW, next_check_at=NOW, etag=None, last_modified="lm2")
    [s] = store.all_sources()
    assert (s.etag, s.last_modified, s.content_hash, s.last_status, s.consecutive_failures) == (
        '"v1"',
        "lm2",
        "h1",
        304,
        0,
    )


def test_success_without_ttl_or_hash_keeps_the_stored_ones(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.all_sources()
    store.record_success(src.id, now=NOW, next_check_at=NOW, content_hash="h1", ttl_seconds=600)
    store.record_success(src.id, now=NOW, next_check_at=NOW)
    [s] = store.all_sources()
    assert (s.content_hash, s.ttl_seconds) == ("h1", 600)


def test_gone_mutes_the_source(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.all_sources()
    store.record_failure(
        src.id, now=NOW, next_check_at=NOW, error="410 Gone", status=410, gone=True
    )
    [s] = store.all_sources()
    assert (s.muted, s.muted_reason, s.last_status) == (True, "410 Gone", 410)
    assert store.due_sources(NOW + timedelta(days=1)) == []


def test_redirect_to_an_existing_source_url_keeps_the_old_url(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA)]), NOW)
    alpha = by_name(store)[ALPHA]
    store.record_success(alpha.id, now=NOW, next_check_at=NOW, url=BETA)
    assert by_name(store)[ALPHA].id == alpha.id


def test_show_info_updates_the_show(store: Store) -> None:
    store.sync_sources(settings([("Alpha", ALPHA)]), NOW)
    [src] = store.all_sources()
    info = FeedInfo(
        title="Alpha Hour",
        link="https://alpha.example/",
        image="https://alpha.example/a.png",
        description="Talk about letters.",
        author="A. Host",
    )
    store.record_success(src.id, now=NOW, next_check_at=NOW, show_info=info)
    store.record_success(
        src.id, now=NOW, next_check_at=NOW, show_info=FeedInfo(title="Alpha Hour!")
    )
    [after] = store.all_sources()
    assert (after.show, after.show_title, after.show_link) == (
        "Alpha",
        "Alpha Hour!",
        "https://alpha.example/",
    )
    with store._engine.connect() as conn:
        row: Any = conn.execute(select(t.show).where(t.show.c.name == "Alpha")).one()
    assert (row.title, row.link, row.image, row.description, row.author) == (
        "Alpha Hour!",
        "https://alpha.example/",
        "https://alpha.example/a.png",
        "Talk about letters.",
        "A. Host",
    )


def test_source_health_counts_active_sources_and_lists_recent_successes(store: Store) -> None:
    gamma = "https://gamma.example/feed"
    store.sync_sources(settings([("Alpha", ALPHA), ("Beta", BETA), ("Gamma", gamma)]), NOW)
    s = by_name(store)
    later = NOW + timedelta(hours=2)
    store.record_success(s[ALPHA].id, now=NOW, next_check_at=later)
    store.record_success(s[BETA].id, now=later, next_check_at=later)
    store.record_failure(s[gamma].id, now=NOW, next_check_at=later, error="HTTP 500", status=500)

    health = store.source_health()
    assert (health.active, health.muted, health.failing) == (3, 0, 1)
    assert sorted(health.successes) == [("Alpha", NOW), ("Beta", later)]
    assert store.source_health(NOW + timedelta(hours=1)).successes == (("Beta", later),)

    store.record_failure(
        s[gamma].id, now=later, next_check_at=later, error="410 Gone", status=410, gone=True
    )
    store.sync_sources(settings([("Alpha", ALPHA), ("Gamma", gamma)]), later)
    health = store.source_health()
    assert (health.active, health.muted, health.failing) == (2, 1, 0)
    assert health.successes == (("Alpha", NOW),)
    assert store.feed_urls() == [("Alpha", ALPHA), ("Gamma", gamma)]


def test_threads_of_one_process_take_turns_writing_to_sqlite(tmp_path: Path) -> None:
    """The poller writes from many threads at once. With SQLite's busy handler turned off,
    any two of them asking for the write lock together would fail with "database is
    locked"; they must queue in the process instead."""
    store = Store(f"sqlite:///{tmp_path / 'one.db'}")
    store.upgrade()
    feeds = [(f"Show {i}", f"https://show-{i}.example/feed.xml") for i in range(8)]
    store.sync_sources(settings(feeds), NOW)
    ids = [s.id for s in store.all_sources()]

    @event.listens_for(store._engine, "connect")
    def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    store._engine.dispose()
    later = NOW + timedelta(hours=1)

    def write(source_id: int) -> None:
        for n in range(40):
            due = later + timedelta(minutes=n)
            store.record_not_modified_many(
                [NotModified(source_id, now=later, next_check_at=due, etag=f"e{n}")]
            )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, ids))
    assert {(s.etag, s.next_check_at) for s in store.all_sources()} == {
        ("e39", later + timedelta(minutes=39))
    }
    store.close()
