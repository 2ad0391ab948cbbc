"""Digest watermarks, the outbox, and named leases for singleton jobs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.store import Store
from racing import race

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def test_watermark_starts_empty_and_moves(store: Store) -> None:
    assert store.digest_watermark("weekly") is None
    store.set_digest_watermark("weekly", NOW, now=NOW)
    store.set_digest_watermark("weekly", NOW + timedelta(days=7), now=NOW + timedelta(days=7))
    assert store.digest_watermark("weekly") == NOW + timedelta(days=7)
    assert store.digest_watermark("daily") is None


def test_outbox_row_is_unique_per_digest_period_and_recipient(store: Store) -> None:
    assert store.outbox_add("weekly", "2024-05-06", "a@example.org", b"first", now=NOW) is True
    assert store.outbox_add("weekly", "2024-05-06", "a@example.org", b"second", now=NOW) is False
    assert store.outbox_add("weekly", "2024-05-06", "b@example.org", b"other", now=NOW) is True
    assert store.outbox_add("weekly", "2024-05-13", "a@example.org", b"next", now=NOW) is True
    rows = store.outbox_rows("weekly")
    assert [(r.period, r.recipient, r.payload, r.status, r.attempts) for r in rows] == [
        ("2024-05-06", "a@example.org", b"first", "pending", 0),
        ("2024-05-06", "b@example.org", b"other", "pending", 0),
        ("2024-05-13", "a@example.org", b"next", "pending", 0),
    ]
    assert store.outbox_rows("daily") == []


def test_enqueue_digest_queues_new_recipients_and_advances_the_watermark(store: Store) -> None:
    payloads = {"a@example.org": b"A", "b@example.org": b"B"}
    assert store.enqueue_digest("weekly", "2024-05-06", payloads, watermark=NOW, now=NOW) == 2
    later = NOW + timedelta(minutes=5)
    more = {**payloads, "c@example.org": b"C"}
    assert store.enqueue_digest("weekly", "2024-05-06", more, watermark=later, now=later) == 1
    assert store.digest_watermark("weekly") == later
    rows = store.outbox_rows()
    assert [(r.recipient, r.payload, r.next_attempt_at, r.created_at) for r in rows] == [
        ("a@example.org", b"A", NOW, NOW),
        ("b@example.org", b"B", NOW, NOW),
        ("c@example.org", b"C", later, later),
    ]


class _Crashes(Mapping[str, bytes]):
    """Payloads whose second item cannot be produced, like a crash mid-enqueue."""

    def __getitem__(self, key: str) -> bytes:
        return b"A"

    def __iter__(self) -> Iterator[str]:
        yield "a@example.org"
        raise RuntimeError("renderer died")

    def __len__(self) -> int:
        return 2


def test_enqueue_digest_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="renderer died"):
        store.enqueue_digest("weekly", "2024-05-06", _Crashes(), watermark=NOW, now=NOW)
    assert store.outbox_rows() == []
    assert store.digest_watermark("weekly") is None


def test_outbox_states_attempts_and_due_times(store: Store) -> None:
    store.outbox_add("weekly", "p", "a@example.org", b"A", now=NOW)
    [row] = store.outbox_due(NOW)
    assert store.outbox_due(NOW - timedelta(seconds=1)) == []

    store.outbox_mark(
        row.id, status="sending", now=NOW, next_attempt_at=NOW + timedelta(minutes=10)
    )
    assert store.outbox_due(NOW + timedelta(minutes=1)) == []
    # A sender that died mid-send leaves the row to be picked up after its lease.
    [stuck] = store.outbox_due(NOW + timedelta(minutes=10))
    assert (stuck.status, stuck.attempts) == ("sending", 1)

    retry = NOW + timedelta(minutes=30)
    store.outbox_mark(
        row.id, status="failed", now=NOW, error="451 try later", next_attempt_at=retry
    )
    assert store.outbox_due(retry - timedelta(seconds=1)) == []
    [failed] = store.outbox_due(retry)
    assert (failed.status, failed.last_error, failed.attempts) == ("failed", "451 try later", 1)

    store.outbox_mark(
        row.id, status="sending", now=retry, next_attempt_at=retry + timedelta(minutes=10)
    )
    store.outbox_mark(row.id, status="sent", now=retry, message_id="<m1@example.org>")
    [sent] = store.outbox_rows()
    assert (sent.status, sent.attempts, sent.sent_at, sent.message_id, sent.last_error) == (
        "sent",
        2,
        retry,
        "<m1@example.org>",
        None,
    )
    assert store.outbox_due(retry + timedelta(days=1)) == []


def test_failed_without_a_next_attempt_is_final(store: Store) -> None:
    store.outbox_add("weekly", "p", "a@example.org", b"A", now=NOW)
    [row] = store.outbox_rows()
    store.outbox_mark(row.id, status="failed", now=NOW, error="550 no such user")
    assert store.outbox_due(NOW + timedelta(days=365)) == []


def test_unknown_outbox_status_is_refused(store: Store) -> None:
    store.outbox_add("weekly", "p", "a@example.org", b"A", now=NOW)
    [row] = store.outbox_rows()
    with pytest.raises(ValueError, match="unknown outbox status"):
        store.outbox_mark(row.id, status="delivered", now=NOW)


def test_lease_is_exclusive_renewable_and_expires(store: Store) -> None:
    ttl = timedelta(minutes=5)
    assert store.try_lease("publish", "a", now=NOW, ttl=ttl) is True
    assert store.try_lease("publish", "b", now=NOW + timedelta(minutes=1), ttl=ttl) is False
    assert (
        store.try_lease("publish", "a", now=NOW + timedelta(minutes=4), ttl=ttl) is True
    )  # renewed to :09
    assert store.try_lease("publish", "b", now=NOW + timedelta(minutes=8), ttl=ttl) is False
    assert store.try_lease("publish", "b", now=NOW + timedelta(minutes=9), ttl=ttl) is True
    assert store.try_lease("digest:weekly", "a", now=NOW, ttl=ttl) is True


def test_release_frees_only_the_owners_lease(store: Store) -> None:
    ttl = timedelta(minutes=5)
    assert store.try_lease("publish", "a", now=NOW, ttl=ttl)
    store.release_lease("publish", "b")
    assert store.try_lease("publish", "b", now=NOW, ttl=ttl) is False
    store.release_lease("publish", "a")
    assert store.try_lease("publish", "b", now=NOW, ttl=ttl) is True


def test_racing_for_a_lease_lets_exactly_one_win(store: Store) -> None:
    owners = [f"instance-{i}" for i in range(6)]

    def grab(owner: str) -> bool:
        return store.try_lease("publish", owner, now=NOW, ttl=timedelta(minutes=5))

    results = race(grab, [(o,) for o in owners])
    assert sorted(results) == [False] * 5 + [True]


def test_claiming_a_row_is_compare_and_set(store: Store) -> None:
    store.outbox_add("d", "p1", "a@example.org", b"msg", now=NOW)
    (row,) = store.outbox_due(NOW)
    first = store.outbox_mark(row.id, status="sending", now=NOW, expect_attempts=row.attempts)
    second = store.outbox_mark(row.id, status="sending", now=NOW, expect_attempts=row.attempts)
    assert (first, second) == (True, False)
    (after,) = store.outbox_rows("d")
    assert after.attempts == 1
