"""Small SQL helpers shared by the store's modules: dialect upserts, chunked IN lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

# Well under SQLite's 32766 and PostgreSQL's 65535 bind parameters per statement.
CHUNK = 5000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upsert_insert(conn: Connection) -> Callable[[Table], Any]:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``_do_update``."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def ensure_names(conn: Connection, table: Table, names: Iterable[str]) -> dict[str, int]:
    """Ids of rows with a unique ``name``, inserting the missing ones.

    ``ON CONFLICT DO NOTHING`` then select again: another instance inserting the same new
    name at the same moment is not an error. Sorted, so concurrent transactions take the
    unique-index locks in the same order and cannot deadlock.
    """
    wanted = sorted(set(names))
    found: dict[str, int] = {}

    def lookup(part: Sequence[str]) -> None:
        rows = conn.execute(select(table.c.name, table.c.id).where(table.c.name.in_(part)))
        found.update((name, id_) for name, id_ in rows)

    for part in chunks(wanted):
        lookup(part)
    missing = [n for n in wanted if n not in found]
    if missing:
        stmt = upsert_insert(conn)(table).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(stmt, [{"name": n} for n in missing])
        for part in chunks(missing):
            lookup(part)
    return found
