"""Rows that hang off an episode: people, chapters and sponsor mentions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, and_, delete, select, update

from aggregator.model import Chapter, Person, Sponsor
from aggregator.normalise import registrable_domain, unique_people
from aggregator.store import tables as t
from aggregator.store.sql import ensure_names

# The kinds of reading a sponsor mention can come from; other readings (a chapters file)
# never carry sponsors and leave mentions alone.
MENTION_KINDS = ("feed", "page", "transcript")


def _unique_people(people: Sequence[Person]) -> list[Person]:
    return list(unique_people(p for p in people if p.name))


def _unique_sponsors(sponsors: Sequence[Sponsor]) -> list[Sponsor]:
    seen: set[str] = set()
    out = []
    for s in sponsors:
        if s.name and s.name not in seen:
            seen.add(s.name)
            out.append(s)
    return out


def add_people(conn: Connection, people_by_episode: Mapping[int, Sequence[Person]]) -> bool:
    lists = {eid: _unique_people(ps) for eid, ps in people_by_episode.items()}
    ids = ensure_names(conn, t.person, {p.name for ps in lists.values() for p in ps})
    rows = [
        {
            "episode_id": eid,
            "person_id": ids[p.name],
            "role": p.role,
            "href": p.href,
            "img": p.img,
            "position": i,
        }
        for eid, ps in lists.items()
        for i, p in enumerate(ps)
    ]
    if rows:
        conn.execute(t.episode_person.insert(), rows)
    return bool(rows)


def _add_missing_people(conn: Connection, episode_id: int, people: Sequence[Person]) -> bool:
    """People a secondary reading names that the episode lacks (names compared casefolded,
    the role already stored wins, as in :func:`aggregator.normalise.unique_people`)."""
    ep = t.episode_person
    stored = conn.execute(
        select(t.person.c.name, ep.c.position)
        .join(t.person, t.person.c.id == ep.c.person_id)
        .where(ep.c.episode_id == episode_id)
    ).all()
    known = {r.name.casefold() for r in stored}
    new = [p for p in _unique_people(people) if p.name.casefold() not in known]
    if not new:
        return False
    ids = ensure_names(conn, t.person, {p.name for p in new})
    first = max((r.position for r in stored), default=-1) + 1
    conn.execute(
        ep.insert(),
        [
            {
                "episode_id": episode_id,
                "person_id": ids[p.name],
                "role": p.role,
                "href": p.href,
                "img": p.img,
                "position": first + i,
            }
            for i, p in enumerate(new)
        ],
    )
    return True


def add_chapters(conn: Connection, chapters_by_episode: Mapping[int, Sequence[Chapter]]) -> bool:
    rows = [
        {"episode_id": eid, "start": c.start, "title": c.title, "url": c.url}
        for eid, chapters in chapters_by_episode.items()
        for c in chapters
    ]
    if rows:
        conn.execute(t.chapter.insert(), rows)
    return bool(rows)


def _mention_values(s: Sponsor) -> dict[str, Any]:
    """A mention's columns: the sponsor's fields but its name (the brand row holds that)."""
    return {f.name: getattr(s, f.name) for f in fields(s) if f.name != "name"}


def add_mentions(
    conn: Connection, sponsors_by_episode: Mapping[int, Sequence[Sponsor]], source_kind: str
) -> bool:
    """Insert mentions of one source kind (the episode has none of that kind yet)."""
    lists = {eid: _unique_sponsors(ss) for eid, ss in sponsors_by_episode.items()}
    all_sponsors = [s for ss in lists.values() for s in ss]
    if not all_sponsors:
        return False
    ids = ensure_names(conn, t.sponsor, {s.name for s in all_sponsors})
    domains = {s.name: d for s in all_sponsors if (d := registrable_domain(s.url))}
    for name, domain in sorted(domains.items()):
        conn.execute(
            update(t.sponsor)
            .where(and_(t.sponsor.c.id == ids[name], t.sponsor.c.domain.is_(None)))
            .values(domain=domain)
        )
    rows = [
        {
            "episode_id": eid,
            "sponsor_id": ids[s.name],
            "source_kind": source_kind,
            "position": i,
            **_mention_values(s),
        }
        for eid, ss in lists.items()
        for i, s in enumerate(ss)
    ]
    conn.execute(t.sponsor_mention.insert(), rows)
    return True


def replace_children(
    conn: Connection,
    episode_id: int,
    *,
    people: Sequence[Person],
    chapters: Sequence[Chapter],
    sponsors: Sequence[Sponsor],
    source_kind: str,
) -> None:
    """The owning source's new reading replaces people, chapters and its own mentions."""
    conn.execute(delete(t.episode_person).where(t.episode_person.c.episode_id == episode_id))
    conn.execute(delete(t.chapter).where(t.chapter.c.episode_id == episode_id))
    add_people(conn, {episode_id: people})
    add_chapters(conn, {episode_id: chapters})
    if source_kind in MENTION_KINDS:
        _delete_mentions(conn, episode_id, source_kind)
        add_mentions(conn, {episode_id: sponsors}, source_kind)


def _delete_mentions(conn: Connection, episode_id: int, source_kind: str) -> None:
    m = t.sponsor_mention
    conn.execute(
        delete(m).where(and_(m.c.episode_id == episode_id, m.c.source_kind == source_kind))
    )


def merge_children(
    conn: Connection,
    episode_id: int,
    *,
    people: Sequence[Person],
    chapters: Sequence[Chapter],
    sponsors: Sequence[Sponsor],
    source_kind: str,
) -> bool:
    """A secondary reading adds what is missing: new people, chapters when there are none,
    and its own mentions (replacing that kind's previous reading). True when rows changed."""
    changed = _add_missing_people(conn, episode_id, people)
    has_chapters = conn.execute(
        select(t.chapter.c.id).where(t.chapter.c.episode_id == episode_id).limit(1)
    ).first()
    if not has_chapters:
        changed |= add_chapters(conn, {episode_id: chapters})
    if source_kind in MENTION_KINDS:
        changed |= _replace_mentions_if_changed(conn, episode_id, sponsors, source_kind)
    return changed


def _replace_mentions_if_changed(
    conn: Connection, episode_id: int, sponsors: Sequence[Sponsor], source_kind: str
) -> bool:
    m = t.sponsor_mention
    cols = [t.sponsor.c.name, *(m.c[k] for k in _mention_values(Sponsor(name="")))]
    stored = conn.execute(
        select(*cols)
        .join(t.sponsor, t.sponsor.c.id == m.c.sponsor_id)
        .where(and_(m.c.episode_id == episode_id, m.c.source_kind == source_kind))
        .order_by(m.c.position)
    ).all()
    new = [(s.name, *_mention_values(s).values()) for s in _unique_sponsors(sponsors)]
    if [tuple(r) for r in stored] == new:
        return False
    _delete_mentions(conn, episode_id, source_kind)
    add_mentions(conn, {episode_id: sponsors}, source_kind)
    return True
