"""Named leases: one instance at a time runs a singleton job (publishing, a digest)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, or_

from aggregator.store import tables as t
from aggregator.store.sql import upsert_insert


def try_lease(conn: Connection, name: str, owner: str, *, now: datetime, ttl: timedelta) -> bool:
    """Acquire a free or expired lease, or renew our own, in one atomic statement."""
    lease = t.lease
    stmt = upsert_insert(conn)(lease).values(name=name, owner=owner, until=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"owner": stmt.excluded.owner, "until": stmt.excluded.until},
        where=or_(lease.c.owner == owner, lease.c.until <= now),
    )
    return conn.execute(stmt.returning(lease.c.name)).first() is not None


def release_lease(conn: Connection, name: str, owner: str) -> None:
    lease = t.lease
    conn.execute(delete(lease).where(and_(lease.c.name == name, lease.c.owner == owner)))
