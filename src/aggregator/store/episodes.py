"""Writing episodes: upserts by identity, merging secondary readings, finding matches."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from aggregator.model import Episode
from aggregator.normalise import content_hash, identity_key, merge, to_utc
from aggregator.store import tables as t
from aggregator.store.children import (
    MENTION_KINDS,
    add_chapters,
    add_mentions,
    add_people,
    merge_children,
    replace_children,
)
from aggregator.store.records import PageWork, UpsertResult
from aggregator.store.sql import chunks

log = logging.getLogger(__name__)

# Columns a reading fills; everything else on the row is bookkeeping.
FIELDS = (
    "title",
    "guid",
    "number",
    "season",
    "published",
    "duration",
    "link",
    "enclosure_url",
    "enclosure_type",
    "enclosure_length",
    "image",
    "description_html",
    "summary",
    "explicit",
    "chapters_url",
    "transcript_url",
    "transcript_type",
    "links",
)


def episode_values(ep: Episode) -> dict[str, Any]:
    enc = ep.enclosure
    return {
        "title": ep.title,
        "guid": ep.guid,
        "number": ep.number,
        "season": ep.season,
        "published": to_utc(ep.published) if ep.published else None,
        "duration": ep.duration,
        "link": ep.link,
        "enclosure_url": enc.url if enc else None,
        "enclosure_type": enc.type if enc else None,
        "enclosure_length": enc.length if enc else None,
        "image": ep.image,
        "description_html": ep.description_html,
        "summary": ep.summary,
        "explicit": ep.explicit,
        "chapters_url": ep.chapters_url,
        "transcript_url": ep.transcript_url,
        "transcript_type": ep.transcript_type,
        "links": list(ep.links) or None,
    }


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _dedupe(episodes: Sequence[Episode]) -> dict[str, Episode]:
    """Feeds repeat items; later copies only fill what the first one lacks."""
    batch: dict[str, Episode] = {}
    for ep in episodes:
        key = identity_key(ep)
        batch[key] = merge(batch[key], ep) if key in batch else ep
    return batch


def upsert_episodes(
    conn: Connection,
    source_id: int,
    episodes: Sequence[Episode],
    *,
    now: datetime,
    source_kind: str,
) -> UpsertResult:
    """Insert new episodes, update changed ones in place, leave the rest alone.

    Identity is per show, not per source. The owning source's reading replaces the row;
    a feed takes an episode over from a page source (or a feed no longer configured);
    any other source only fills what is missing, so two sources never overwrite each other
    back and forth.
    """
    src = conn.execute(
        select(t.source.c.show_id, t.source.c.kind).where(t.source.c.id == source_id)
    ).one()
    batch = _dedupe(episodes)
    hashes = {key: content_hash(ep) for key, ep in batch.items()}
    e, s = t.episode, t.source
    existing: dict[str, Any] = {}
    for part in chunks(list(batch)):
        rows = conn.execute(
            select(
                e.c.id,
                e.c.identity_key,
                e.c.source_id,
                e.c.content_hash,
                s.c.kind.label("owner_kind"),
                s.c.active.label("owner_active"),
            )
            .join(s, s.c.id == e.c.source_id)
            .where(and_(e.c.show_id == src.show_id, e.c.identity_key.in_(part)))
        )
        existing.update({r.identity_key: r for r in rows})

    added = _insert_new(conn, src.show_id, source_id, batch, hashes, existing, now, source_kind)
    updated: list[str] = []
    unchanged = 0
    for key, ep in batch.items():
        row = existing.get(key)
        if row is None:
            continue
        owns = row.source_id == source_id or (
            src.kind == "feed" and (row.owner_kind != "feed" or not row.owner_active)
        )
        if row.content_hash == hashes[key]:
            if owns and row.source_id != source_id:
                conn.execute(update(e).where(e.c.id == row.id).values(source_id=source_id))
            unchanged += 1
        elif owns:
            conn.execute(
                update(e)
                .where(e.c.id == row.id)
                .values(
                    **episode_values(ep),
                    source_id=source_id,
                    content_hash=hashes[key],
                    updated_at=now,
                )
            )
            replace_children(
                conn,
                row.id,
                people=ep.people,
                chapters=ep.chapters,
                sponsors=ep.sponsors,
                source_kind=source_kind,
            )
            updated.append(key)
        elif fill_episode(conn, row.id, ep, now=now, source_kind=source_kind):
            updated.append(key)
        else:
            unchanged += 1
    return UpsertResult(added=added, updated=updated, unchanged=unchanged)


def _insert_new(
    conn: Connection,
    show_id: int,
    source_id: int,
    batch: dict[str, Episode],
    hashes: dict[str, str],
    existing: dict[str, Any],
    now: datetime,
    source_kind: str,
) -> list[str]:
    new = [key for key in batch if key not in existing]
    if not new:
        return []
    rows = [
        {
            **episode_values(batch[key]),
            "show_id": show_id,
            "source_id": source_id,
            "identity_key": key,
            "content_hash": hashes[key],
            "first_seen_at": now,
            "updated_at": now,
        }
        for key in new
    ]
    e = t.episode
    result = conn.execute(
        e.insert().returning(e.c.id, e.c.identity_key, sort_by_parameter_order=True), rows
    )
    ids = {key: eid for eid, key in result}
    add_people(conn, {ids[k]: batch[k].people for k in new})
    add_chapters(conn, {ids[k]: batch[k].chapters for k in new})
    if source_kind in MENTION_KINDS:
        add_mentions(conn, {ids[k]: batch[k].sponsors for k in new}, source_kind)
    return new


def fill_episode(
    conn: Connection, episode_id: int, reading: Episode, *, now: datetime, source_kind: str
) -> bool:
    """Fill a stored episode's empty fields from another reading and add what it adds."""
    e = t.episode
    row = conn.execute(select(*(e.c[f] for f in FIELDS)).where(e.c.id == episode_id)).one()
    current = row._mapping
    values = {
        f: v for f, v in episode_values(reading).items() if not _empty(v) and _empty(current[f])
    }
    changed = merge_children(
        conn,
        episode_id,
        people=reading.people,
        chapters=reading.chapters,
        sponsors=reading.sponsors,
        source_kind=source_kind,
    )
    if values or changed:
        conn.execute(update(e).where(e.c.id == episode_id).values(**values, updated_at=now))
    return bool(values) or changed


def _link_variants(link: str) -> list[str]:
    """The same page written differently: scheme, trailing slash, fragment."""
    base = link.split("#", 1)[0]
    stems = {base.rstrip("/")}
    for scheme in ("http://", "https://"):
        if base.startswith(scheme):
            other = "https://" if scheme == "http://" else "http://"
            stems.add(other + base.removeprefix(scheme).rstrip("/"))
    return sorted({v for stem in stems for v in (stem, stem + "/")})


def normalised_title(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def find_episode(
    conn: Connection,
    show: str,
    *,
    link: str | None,
    number: int | None,
    title: str | None,
    published: date | None,
) -> int | None:
    """The stored episode a page describes: by link, else number, else title (+ date).

    The date may be a day off (the page's local date against the stored UTC instant), so
    it only narrows candidates within a day either side.
    """
    e = t.episode
    show_id = conn.execute(select(t.show.c.id).where(t.show.c.name == show)).scalar()
    if show_id is None:
        return None
    in_show = e.c.show_id == show_id
    if link:
        found = conn.execute(
            select(e.c.id).where(and_(in_show, e.c.link.in_(_link_variants(link)))).order_by(e.c.id)
        ).scalar()
        if found is not None:
            return found
    window = None
    if published is not None:
        start = datetime.combine(published, time(), tzinfo=UTC) - timedelta(days=1)
        window = and_(e.c.published >= start, e.c.published < start + timedelta(days=3))
    if number is not None:
        cands = (
            conn.execute(select(e.c.id).where(and_(in_show, e.c.number == number)).order_by(e.c.id))
            .scalars()
            .all()
        )
        if len(cands) > 1 and window is not None:
            cands = (
                conn.execute(
                    select(e.c.id)
                    .where(and_(in_show, e.c.number == number, window))
                    .order_by(e.c.id)
                )
                .scalars()
                .all()
            )
        if len(cands) == 1:
            return cands[0]
    wanted = normalised_title(title) if title else ""
    if not wanted:
        return None
    query = select(e.c.id, e.c.title).where(in_show)
    if window is not None:
        query = query.where(or_(window, e.c.published.is_(None)))
    matches = [
        r.id for r in conn.execute(query.order_by(e.c.id)) if normalised_title(r.title) == wanted
    ]
    return matches[0] if len(matches) == 1 else None


def episodes_needing_pages(
    conn: Connection, show: str, *, now: datetime, recheck: timedelta, limit: int
) -> list[PageWork]:
    """Episodes of page-following feeds not read since they changed, or read too long ago.

    Never-read episodes come first, newest first; then the longest unread.
    """
    e, s = t.episode, t.source
    rows = conn.execute(
        select(
            e.c.id,
            e.c.title,
            e.c.number,
            e.c.published,
            e.c.duration,
            e.c.link,
            e.c.transcript_url,
            e.c.chapters_url,
            e.c.page_checked_at,
            e.c.page_hash,
        )
        .join(s, s.c.id == e.c.source_id)
        .join(t.show, t.show.c.id == e.c.show_id)
        .where(
            t.show.c.name == show,
            s.c.follow_pages.is_(True),
            or_(
                e.c.link.is_not(None),
                e.c.transcript_url.is_not(None),
                e.c.chapters_url.is_not(None),
            ),
            or_(
                e.c.page_checked_at.is_(None),
                e.c.page_checked_at < e.c.updated_at,
                e.c.page_checked_at < now - recheck,
            ),
        )
        .order_by(
            e.c.page_checked_at.is_not(None),
            e.c.page_checked_at,
            e.c.published.desc(),
            e.c.id.desc(),
        )
        .limit(limit)
    )
    return [
        PageWork(episode_id=r.id, show=show, **{k: v for k, v in r._mapping.items() if k != "id"})
        for r in rows
    ]


def mark_page_checked(
    conn: Connection, episode_id: int, *, now: datetime, page_hash: str | None
) -> None:
    e = t.episode
    conn.execute(
        update(e).where(e.c.id == episode_id).values(page_checked_at=now, page_hash=page_hash)
    )
