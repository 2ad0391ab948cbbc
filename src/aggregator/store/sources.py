"""Sources: syncing them with the config, claiming due ones, recording poll outcomes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    String,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)

from aggregator.config import Settings
from aggregator.model import FeedInfo
from aggregator.store import tables as t
from aggregator.store.records import NotModified, SourceHealth, SourceState
from aggregator.store.sql import chunks, ensure_names

log = logging.getLogger(__name__)

_LEASE_CLEARED = {"lease_owner": None, "lease_until": None}


@dataclass(frozen=True, slots=True)
class _Wanted:
    kind: str
    name: str
    show: str
    url: str
    follow_pages: bool


def _wanted(settings: Settings) -> list[_Wanted]:
    feeds = [_Wanted("feed", f.name, f.name, f.url, f.follow_pages) for f in settings.feeds]
    pages = [_Wanted("page", p.show, p.show, p.url, False) for p in settings.pages]
    return feeds + pages


def sync_sources(conn: Connection, settings: Settings, now: datetime) -> None:
    """Make the source table say what the config says, without losing any history.

    A config entry matches a row by URL, then by the URL it had before a permanent
    redirect (``original_url``), then (feeds) by name, which is how an edited URL keeps
    its show's episodes and state. Rows no config entry matches are deactivated.
    """
    wanted = _wanted(settings)
    show_ids = ensure_names(conn, t.show, {w.show for w in wanted})
    s = t.source
    rows = conn.execute(
        select(s.c.id, s.c.kind, s.c.name, s.c.url, s.c.original_url, s.c.active)
    ).all()
    by_url = {r.url: r for r in rows}
    by_original = {r.original_url: r for r in rows}
    feed_by_name = {r.name: r for r in rows if r.kind == "feed"}
    claimed: set[int] = set()
    added = reactivated = 0
    for w in wanted:
        row = by_url.get(w.url) or by_original.get(w.url)
        renamed_url = False
        if row is None and w.kind == "feed":
            row = feed_by_name.get(w.name)
            renamed_url = row is not None
        if row is not None and row.id in claimed:
            log.warning(
                "source skipped: url already used by another entry source=%s url=%s", w.name, w.url
            )
            continue
        values: dict[str, Any] = {
            "kind": w.kind,
            "name": w.name,
            "show_id": show_ids[w.show],
            "follow_pages": w.follow_pages,
            "active": True,
        }
        if row is None:
            conn.execute(
                t.source.insert().values(
                    **values, url=w.url, original_url=w.url, next_check_at=now, created_at=now
                )
            )
            log.debug("source added source=%s url=%s", w.name, w.url)
            added += 1
            continue
        claimed.add(row.id)
        if not row.active:
            values["next_check_at"] = now
            reactivated += 1
        if renamed_url:
            values.update(
                url=w.url,
                original_url=w.url,
                etag=None,
                last_modified=None,
                content_hash=None,
                item_index=None,
                muted=False,
                muted_reason=None,
                consecutive_failures=0,
                next_check_at=now,
            )
            log.info("source url changed source=%s url=%s", w.name, w.url)
        conn.execute(update(s).where(s.c.id == row.id).values(**values))
    gone = [r.id for r in rows if r.active and r.id not in claimed]
    if gone:
        conn.execute(update(s).where(s.c.id.in_(gone)).values(active=False, **_LEASE_CLEARED))
    if added or reactivated or gone:
        log.info(
            "sources synced added=%d reactivated=%d deactivated=%d", added, reactivated, len(gone)
        )


# What a SourceState carries: every column but the show id and the item index, which only
# the poll of that one source reads (see item_index), so listing sources stays small.
_STATE_COLUMNS = tuple(c for c in t.source.c if c.name not in ("show_id", "item_index"))


def _state_query() -> Any:
    show = t.show
    return select(
        *_STATE_COLUMNS,
        show.c.name.label("show_name"),
        show.c.title.label("show_title"),
        show.c.link.label("show_link"),
    ).join(show, show.c.id == t.source.c.show_id)


def _state(row: Row[Any]) -> SourceState:
    m = row._mapping
    return SourceState(
        show=m["show_name"],
        show_title=m["show_title"],
        show_link=m["show_link"],
        **{c.name: m[c] for c in _STATE_COLUMNS},
    )


def item_index(conn: Connection, source_id: int) -> bytes | None:
    return conn.execute(select(t.source.c.item_index).where(t.source.c.id == source_id)).scalar()


def all_sources(conn: Connection) -> list[SourceState]:
    return [_state(r) for r in conn.execute(_state_query().order_by(t.source.c.id))]


def feed_urls(conn: Connection) -> list[tuple[str, str]]:
    """(show name, URL) of every active feed, for the OPML list."""
    s, show = t.source, t.show
    query = (
        select(show.c.name, s.c.url)
        .join(show, show.c.id == s.c.show_id)
        .where(s.c.active.is_(True), s.c.kind == "feed")
        .order_by(s.c.id)
    )
    return [(r.name, r.url) for r in conn.execute(query)]


def source_health(conn: Connection, since: datetime | None) -> SourceHealth:
    """Counts over the active sources, and the last successes at or after ``since`` (all of
    them without it)."""
    s = t.source
    failing = and_(s.c.last_error.is_not(None), s.c.muted.is_(False))
    active, muted, failed = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((s.c.muted.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((failing, 1), else_=0)), 0),
        ).where(s.c.active.is_(True))
    ).one()
    recent = select(s.c.name, s.c.last_success_at).where(
        s.c.active.is_(True), s.c.last_success_at.is_not(None)
    )
    if since is not None:
        recent = recent.where(s.c.last_success_at >= since)
    successes = tuple((r.name, r.last_success_at) for r in conn.execute(recent))
    return SourceHealth(int(active), int(muted), int(failed), successes)


def due_sources(
    conn: Connection,
    now: datetime,
    *,
    limit: int,
    owner: str | None,
    lease: timedelta | None,
) -> list[SourceState]:
    """Due sources, oldest due first; with ``owner`` and ``lease``, claimed for that owner.

    The claim is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``: on
    PostgreSQL concurrent claimers skip each other's rows; SQLite ignores the locking
    clause and serialises writers instead. Either way no source is claimed twice.
    """
    s = t.source
    due = and_(
        s.c.active.is_(True),
        s.c.muted.is_(False),
        s.c.next_check_at <= now,
        or_(s.c.lease_until.is_(None), s.c.lease_until <= now),
    )
    order = (s.c.next_check_at, s.c.id)
    if owner is None or lease is None:
        return [
            _state(r) for r in conn.execute(_state_query().where(due).order_by(*order).limit(limit))
        ]
    pick = select(s.c.id).where(due).order_by(*order).limit(limit).with_for_update(skip_locked=True)
    claimed = (
        conn.execute(
            update(s)
            .where(s.c.id.in_(pick.scalar_subquery()))
            .values(lease_owner=owner, lease_until=now + lease)
            .returning(s.c.id)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    rows = conn.execute(_state_query().where(s.c.id.in_(claimed)).order_by(*order))
    return [_state(r) for r in rows]


def record_not_modified(
    conn: Connection,
    source_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
) -> None:
    """A 304 is a success; validators the server repeats replace ours, missing ones don't."""
    values: dict[str, Any] = {
        "last_checked_at": now,
        "last_success_at": now,
        "last_status": 304,
        "last_error": None,
        "consecutive_failures": 0,
        "next_check_at": next_check_at,
        **_LEASE_CLEARED,
    }
    if etag is not None:
        values["etag"] = etag
    if last_modified is not None:
        values["last_modified"] = last_modified
    conn.execute(update(t.source).where(t.source.c.id == source_id).values(**values))


def renew_leases(conn: Connection, ids: Sequence[int], owner: str, until: datetime) -> int:
    """Extend ``owner``'s leases on those of ``ids`` it still holds; how many it holds."""
    s = t.source
    kept = 0
    for part in chunks(list(ids)):
        result = conn.execute(
            update(s)
            .where(and_(s.c.id.in_(part), s.c.lease_owner == owner))
            .values(lease_until=until)
        )
        kept += result.rowcount
    return kept


def record_not_modified_many(conn: Connection, rows: Sequence[NotModified]) -> None:
    """Many 304s in one statement (executemany); as :func:`record_not_modified` each."""
    s = t.source
    stmt = (
        update(s)
        .where(s.c.id == bindparam("sid"))
        .values(
            last_checked_at=bindparam("now"),
            last_success_at=bindparam("now"),
            last_status=304,
            last_error=None,
            consecutive_failures=0,
            next_check_at=bindparam("due"),
            etag=func.coalesce(bindparam("new_etag", type_=String), s.c.etag),
            last_modified=func.coalesce(bindparam("new_modified", type_=String), s.c.last_modified),
            **_LEASE_CLEARED,
        )
    )
    conn.execute(
        stmt,
        [
            {
                "sid": r.source_id,
                "now": r.now,
                "due": r.next_check_at,
                "new_etag": r.etag,
                "new_modified": r.last_modified,
            }
            for r in rows
        ],
    )


def record_failure(
    conn: Connection,
    source_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    error: str,
    status: int | None,
    gone: bool,
    count: bool,
) -> None:
    """``gone`` (410) mutes the source until its URL changes in the config."""
    s = t.source
    values: dict[str, Any] = {
        "last_checked_at": now,
        "last_status": status,
        "last_error": error,
        "next_check_at": next_check_at,
        **_LEASE_CLEARED,
    }
    if count:
        values["consecutive_failures"] = s.c.consecutive_failures + 1
    if gone:
        values.update(muted=True, muted_reason=error)
    conn.execute(update(s).where(s.c.id == source_id).values(**values))


def record_success(
    conn: Connection,
    source_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    etag: str | None,
    last_modified: str | None,
    content_hash: str | None,
    url: str | None,
    ttl_seconds: int | None,
    show_info: FeedInfo | None,
    avg_post_interval_s: int | None,
    item_index: bytes | None = None,
) -> None:
    """Validators are replaced as sent; ``None`` for hash, ttl, interval and item index
    means "not known this time" and keeps what was stored (``b""`` clears the index)."""
    s = t.source
    values: dict[str, Any] = {
        "last_checked_at": now,
        "last_success_at": now,
        "last_status": 200,
        "last_error": None,
        "consecutive_failures": 0,
        "next_check_at": next_check_at,
        "etag": etag,
        "last_modified": last_modified,
        **_LEASE_CLEARED,
    }
    optional = {
        "content_hash": content_hash,
        "ttl_seconds": ttl_seconds,
        "avg_post_interval_s": avg_post_interval_s,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    if item_index is not None:
        values["item_index"] = item_index or None
    current = conn.execute(select(s.c.url, s.c.name, s.c.show_id).where(s.c.id == source_id)).one()
    if url and url != current.url:
        taken = conn.execute(select(s.c.id).where(s.c.url == url)).first()
        if taken is None:
            values["url"] = url
        else:
            log.warning(
                "redirect target already a source, url kept source=%s url=%s", current.name, url
            )
    conn.execute(update(s).where(s.c.id == source_id).values(**values))
    if show_info is not None:
        _update_show(conn, current.show_id, show_info)


def _update_show(conn: Connection, show_id: int, info: FeedInfo) -> None:
    fields = {
        "title": info.title,
        "link": info.link,
        "image": info.image,
        "description": info.description,
        "author": info.author,
    }
    values = {k: v for k, v in fields.items() if v}
    if values:
        conn.execute(update(t.show).where(t.show.c.id == show_id).values(**values))
