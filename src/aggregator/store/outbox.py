"""Digest bookkeeping: watermarks and the outbox that makes each mail go out once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from aggregator.store import tables as t
from aggregator.store.records import OutboxRow
from aggregator.store.sql import upsert_insert

STATUSES = ("pending", "sending", "sent", "failed")


def digest_watermark(conn: Connection, name: str) -> datetime | None:
    d = t.digest_state
    return conn.execute(select(d.c.watermark).where(d.c.name == name)).scalar()


def set_digest_watermark(
    conn: Connection, name: str, watermark: datetime, *, now: datetime
) -> None:
    stmt = upsert_insert(conn)(t.digest_state).values(
        name=name, watermark=watermark, last_sent_at=now
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"watermark": stmt.excluded.watermark, "last_sent_at": stmt.excluded.last_sent_at},
        )
    )


def outbox_add(
    conn: Connection, digest: str, period: str, recipient: str, payload: bytes, *, now: datetime
) -> bool:
    """False when (digest, period, recipient) is queued already: a re-run sends nothing twice."""
    stmt = upsert_insert(conn)(t.outbox).values(
        digest=digest,
        period=period,
        recipient=recipient,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        payload=payload,
    )
    return conn.execute(stmt.on_conflict_do_nothing().returning(t.outbox.c.id)).first() is not None


def enqueue_digest(
    conn: Connection,
    name: str,
    period: str,
    payloads: Mapping[str, bytes],
    *,
    watermark: datetime,
    now: datetime,
) -> int:
    """Queue one message per recipient and advance the watermark, in the caller's transaction."""
    inserted = sum(
        outbox_add(conn, name, period, rcpt, body, now=now) for rcpt, body in payloads.items()
    )
    set_digest_watermark(conn, name, watermark, now=now)
    return inserted


def _row(r: Any) -> OutboxRow:
    return OutboxRow(**{c.name: r._mapping[c] for c in t.outbox.c})


def outbox_due(conn: Connection, now: datetime) -> list[OutboxRow]:
    """Messages to (re)send now, oldest first.

    ``pending`` and ``failed`` rows whose ``next_attempt_at`` has come, and ``sending`` rows
    whose ``next_attempt_at`` (the sender's lease) passed: that sender stopped mid-send.
    ``failed`` without a next attempt is final.
    """
    o = t.outbox
    rows = conn.execute(
        select(o)
        .where(and_(o.c.status != "sent", o.c.next_attempt_at <= now))
        .order_by(o.c.next_attempt_at, o.c.id)
    )
    return [_row(r) for r in rows]


def outbox_rows(conn: Connection, digest: str | None) -> list[OutboxRow]:
    o = t.outbox
    query = select(o).order_by(o.c.id)
    if digest is not None:
        query = query.where(o.c.digest == digest)
    return [_row(r) for r in conn.execute(query)]


def outbox_mark(
    conn: Connection,
    outbox_id: int,
    *,
    status: str,
    now: datetime,
    error: str | None,
    next_attempt_at: datetime | None,
    message_id: str | None,
    expect_attempts: int | None = None,
) -> bool:
    """Move a message along; ``sending`` counts an attempt, ``sent`` stamps the time.

    With ``expect_attempts`` the change is a compare-and-set: it happens only while the row
    still has that many attempts, so two senders (the daemon and ``digest --send``) cannot
    both claim it. Returns whether the row changed.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown outbox status {status!r}; expected one of {STATUSES}")
    o = t.outbox
    values: dict[str, Any] = {"status": status, "next_attempt_at": next_attempt_at}
    if status == "sending":
        values["attempts"] = o.c.attempts + 1
    if status == "sent":
        values.update(sent_at=now, last_error=None)
    if error is not None:
        values["last_error"] = error
    if message_id is not None:
        values["message_id"] = message_id
    stmt = update(o).where(o.c.id == outbox_id)
    if expect_attempts is not None:
        stmt = stmt.where(o.c.attempts == expect_attempts)
    return conn.execute(stmt.values(**values)).rowcount == 1
