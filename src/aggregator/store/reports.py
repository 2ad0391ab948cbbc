"""The sponsor report: which brands sponsor which shows, since when, with which codes."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, Select, distinct, func, select

from aggregator.store import tables as t
from aggregator.store.records import SponsorRow


def sponsor_report(conn: Connection, *, since: date | None, show: str | None) -> list[SponsorRow]:
    """One row per (brand, kind), most episodes first.

    An episode counts once however many readings (feed, page, transcript) mention the
    brand; ``mentions`` counts those readings. Dates are episode publication dates, or
    when the episode was first seen if it has none.
    """
    m, e, sp = t.sponsor_mention, t.episode, t.sponsor
    when = func.coalesce(e.c.published, e.c.first_seen_at)

    def scoped(query: Select[Any]) -> Select[Any]:
        query = (
            query.select_from(m)
            .join(sp, sp.c.id == m.c.sponsor_id)
            .join(e, e.c.id == m.c.episode_id)
            .join(t.show, t.show.c.id == e.c.show_id)
        )
        if since is not None:
            query = query.where(when >= datetime.combine(since, time(), tzinfo=UTC))
        if show is not None:
            query = query.where(t.show.c.name == show)
        return query

    totals = conn.execute(
        scoped(
            select(
                sp.c.id,
                sp.c.name,
                m.c.kind,
                func.count(distinct(e.c.id)).label("episodes"),
                func.count(m.c.id).label("mentions"),
                func.min(when).label("first"),
                func.max(when).label("last"),
            )
        ).group_by(sp.c.id, sp.c.name, m.c.kind)
    ).all()
    shows: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in conn.execute(scoped(select(sp.c.id, m.c.kind, t.show.c.name)).distinct()):
        shows[(r[0], r[1])].add(r[2])
    codes: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in conn.execute(
        scoped(select(sp.c.id, m.c.kind, m.c.promo_code))
        .where(m.c.promo_code.is_not(None))
        .distinct()
    ):
        codes[(r[0], r[1])].add(r[2])
    rows = [
        SponsorRow(
            brand=r.name,
            kind=r.kind,
            shows=tuple(sorted(shows[(r.id, r.kind)], key=str.casefold)),
            episodes=r.episodes,
            mentions=r.mentions,
            first_seen=r.first.date() if r.first else None,
            last_seen=r.last.date() if r.last else None,
            promo_codes=tuple(sorted(codes[(r.id, r.kind)])),
        )
        for r in totals
    ]
    return sorted(rows, key=lambda r: (-r.episodes, r.brand.casefold(), r.kind))
