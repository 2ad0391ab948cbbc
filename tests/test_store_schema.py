"""Migrations, engine settings and datetime handling of the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import StatementError

from aggregator.store import Store
from aggregator.store import tables as t
from aggregator.store.engine import make_engine, url_for_logs
from racing import race

TABLES = {
    "show",
    "source",
    "episode",
    "person",
    "episode_person",
    "chapter",
    "sponsor",
    "sponsor_mention",
    "digest_state",
    "outbox",
    "lease",
    "alembic_version",
}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_store_does_not_migrate_on_its_own(db_url: str) -> None:
    s = Store(db_url)
    s.ping()
    s.close()
    assert _table_names(db_url) == set()


def test_upgrade_from_empty_then_again_is_a_no_op(db_url: str) -> None:
    s = Store(db_url)
    s.upgrade()
    assert _table_names(db_url) == TABLES
    s.upgrade()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    s.close()
    assert versions == ["0002_item_index"]


def test_migrated_database_matches_the_table_metadata(store: Store, db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), t.metadata
        )
    engine.dispose()
    assert diff == []


@pytest.mark.postgres
def test_postgres_tables_land_in_the_search_path_schema(pg_url: str) -> None:
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    s = Store(pg_url)
    s.upgrade()
    s.close()
    plain = create_engine(pg_url.split("?", 1)[0])
    with plain.connect() as conn:
        found = (
            conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            )
            .scalars()
            .all()
        )
    plain.dispose()
    assert set(found) == TABLES


def test_two_processes_upgrading_at_once_both_succeed(db_url: str) -> None:
    stores = [Store(db_url), Store(db_url)]
    try:
        race(Store.upgrade, [(s,) for s in stores])
    finally:
        for s in stores:
            s.close()
    assert _table_names(db_url) == TABLES


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "state" / "nested" / "agg.db"
    s = Store(f"sqlite:///{db}")
    s.upgrade()
    s.close()
    assert db.exists()
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 30000,
    }


def test_url_for_logs_hides_the_password() -> None:
    shown = url_for_logs("postgresql://agg:s3cret@db.internal:5432/agg")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://agg:***@db.internal:5432/agg"


def test_datetimes_come_back_as_aware_utc(store: Store) -> None:
    berlin = timezone(timedelta(hours=2))
    store.try_lease(
        "job", "a", now=datetime(2024, 6, 1, 14, 0, tzinfo=berlin), ttl=timedelta(hours=1)
    )
    engine = store._engine
    with engine.connect() as conn:
        until = conn.execute(select(t.lease.c.until)).scalar_one()
    assert until == datetime(2024, 6, 1, 13, 0, tzinfo=UTC)
    assert until.tzinfo is UTC


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        store.try_lease("job", "a", now=datetime(2024, 6, 1, 12, 0), ttl=timedelta(hours=1))
