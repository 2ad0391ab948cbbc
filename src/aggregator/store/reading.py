"""Reading episodes back as plain :class:`~aggregator.model.Episode` values."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select

from aggregator.model import Chapter, Enclosure, Episode, Person, Sponsor
from aggregator.normalise import merge_sponsors
from aggregator.store import tables as t
from aggregator.store.records import StoredEpisode
from aggregator.store.sql import chunks

# When several readings mention one brand, the feed's details win, then the page's.
_KIND_ORDER = {"feed": 0, "page": 1, "transcript": 2}


def latest_episodes(conn: Connection, limit: int) -> list[StoredEpisode]:
    """Newest first by publication date, undated ones last, each group by first seen.

    Two index-ordered queries instead of one ``NULLS LAST`` sort, so both backends read
    only ``limit`` rows off ``ix_episode_published`` / ``ix_episode_first_seen_at``.
    """
    e = t.episode
    dated = (
        conn.execute(
            select(e.c.id)
            .where(e.c.published.is_not(None))
            .order_by(e.c.published.desc(), e.c.first_seen_at.desc(), e.c.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    ids = list(dated)
    if len(ids) < limit:
        undated = (
            conn.execute(
                select(e.c.id)
                .where(e.c.published.is_(None))
                .order_by(e.c.first_seen_at.desc(), e.c.id.desc())
                .limit(limit - len(ids))
            )
            .scalars()
            .all()
        )
        ids.extend(undated)
    return load(conn, ids)


def episodes_between(
    conn: Connection, start: datetime, end: datetime, *, shows: Sequence[str] | None
) -> list[StoredEpisode]:
    """Episodes first seen in ``[start, end)``, oldest first (what a digest covers)."""
    e = t.episode
    query: Select[Any] = select(e.c.id).where(
        and_(e.c.first_seen_at >= start, e.c.first_seen_at < end)
    )
    if shows is not None:
        query = query.join(t.show, t.show.c.id == e.c.show_id).where(t.show.c.name.in_(list(shows)))
    ids = conn.execute(query.order_by(e.c.first_seen_at, e.c.id)).scalars().all()
    return load(conn, list(ids))


def episode_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(t.episode)).scalar_one()


def load(conn: Connection, ids: Sequence[int]) -> list[StoredEpisode]:
    """Episodes by id, in the given order, with their people, chapters and sponsors.

    Four queries per chunk of ids however many episodes there are.
    """
    out: list[StoredEpisode] = []
    for part in chunks(list(ids)):
        out.extend(_load_chunk(conn, part))
    return out


def _load_chunk(conn: Connection, ids: Sequence[int]) -> list[StoredEpisode]:
    e, ep, m = t.episode, t.episode_person, t.sponsor_mention
    rows = {
        r.id: r
        for r in conn.execute(
            select(e, t.show.c.name.label("show_name"))
            .join(t.show, t.show.c.id == e.c.show_id)
            .where(e.c.id.in_(ids))
        )
    }
    people: dict[int, list[Person]] = defaultdict(list)
    for r in conn.execute(
        select(ep.c.episode_id, t.person.c.name, ep.c.role, ep.c.href, ep.c.img)
        .join(t.person, t.person.c.id == ep.c.person_id)
        .where(ep.c.episode_id.in_(ids))
        .order_by(ep.c.episode_id, ep.c.position, ep.c.role)
    ):
        people[r.episode_id].append(Person(name=r.name, role=r.role, href=r.href, img=r.img))
    chapters: dict[int, list[Chapter]] = defaultdict(list)
    for r in conn.execute(
        select(t.chapter)
        .where(t.chapter.c.episode_id.in_(ids))
        .order_by(t.chapter.c.start, t.chapter.c.id)
    ):
        chapters[r.episode_id].append(Chapter(start=r.start, title=r.title, url=r.url))
    mentions: dict[int, list[Any]] = defaultdict(list)
    for r in conn.execute(
        select(m, t.sponsor.c.name.label("brand"))
        .join(t.sponsor, t.sponsor.c.id == m.c.sponsor_id)
        .where(m.c.episode_id.in_(ids))
        .order_by(m.c.episode_id, m.c.position, m.c.id)
    ):
        mentions[r.episode_id].append(r)
    return [
        _stored(rows[i], people[i], chapters[i], _merge_mentions(mentions[i]))
        for i in ids
        if i in rows
    ]


def _merge_mentions(rows: list[Any]) -> tuple[Sponsor, ...]:
    """One :class:`Sponsor` per brand across the readings (feed first, then page, then
    transcript), combined the way :func:`aggregator.normalise.merge_sponsors` combines."""
    ordered = sorted(rows, key=lambda r: (_KIND_ORDER.get(r.source_kind, 9), r.position))
    return merge_sponsors(
        Sponsor(
            name=r.brand,
            url=r.url,
            promo_code=r.promo_code,
            offer=r.offer,
            start=r.start,
            placement=r.placement,
            kind=r.kind,
            evidence=r.evidence,
            confidence=r.confidence,
        )
        for r in ordered
    )


def _stored(
    row: Any, people: list[Person], chapters: list[Chapter], sponsors: tuple[Sponsor, ...]
) -> StoredEpisode:
    enclosure = (
        Enclosure(url=row.enclosure_url, type=row.enclosure_type, length=row.enclosure_length)
        if row.enclosure_url
        else None
    )
    episode = Episode(
        show=row.show_name,
        title=row.title,
        guid=row.guid or row.identity_key,
        number=row.number,
        season=row.season,
        published=row.published,
        duration=row.duration,
        link=row.link,
        enclosure=enclosure,
        image=row.image,
        description_html=row.description_html,
        summary=row.summary,
        explicit=row.explicit,
        people=tuple(people),
        chapters=tuple(chapters),
        chapters_url=row.chapters_url,
        sponsors=sponsors,
        links=tuple(row.links or ()),
        transcript_url=row.transcript_url,
        transcript_type=row.transcript_type,
    )
    return StoredEpisode(id=row.id, episode=episode, first_seen_at=row.first_seen_at)
