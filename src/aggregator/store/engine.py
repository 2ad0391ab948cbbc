"""Engines for SQLite files and PostgreSQL, configured for a multi-threaded daemon."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

# SQLite transactions opened through this engine take the write lock at BEGIN, so a
# read-then-write transaction waits for busy_timeout instead of failing with "database
# is locked" when another connection wrote in between.
WRITE = {"sqlite_begin": "IMMEDIATE"}
BUSY_TIMEOUT_MS = 30_000


def database_url(url: str) -> URL:
    """Parse ``url``; plain ``postgresql://`` means psycopg 3, the driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_engine(url: URL) -> Engine:
    db = url.database or ""
    if db and db != ":memory:" and not db.startswith("file:"):
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        _use_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def url_for_logs(url: str) -> str:
    return database_url(url).render_as_string(hide_password=True)


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@retry(
    retry=retry_if_exception(_locked),
    stop=stop_after_delay(BUSY_TIMEOUT_MS / 1000),
    wait=wait_random(0.01, 0.1),
    reraise=True,
)
def _use_wal(cur: sqlite3.Cursor) -> None:
    """Switching a new database file to WAL needs it to itself, and SQLite answers "locked"
    at once rather than wait when two connections race for that (a daemon and a CLI
    command opening a fresh state directory together): try again until the busy timeout.
    Once the file is in WAL mode the pragma only reads it."""
    cur.execute("PRAGMA journal_mode=WAL")
