"""Shared fixtures: the async backend and real databases (SQLite files, PostgreSQL when present)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from httpserver import HttpServer

PG_URL = os.environ.get(
    "AGGREGATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("AGGREGATOR_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _postgres_reason() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}".strip()
    return None


@pytest.fixture(scope="session")
def postgres_available() -> None:
    reason = _postgres_reason()
    if reason:
        if REQUIRE_PG:
            pytest.fail(f"AGGREGATOR_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def pg_url(postgres_available: None) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards.

    A schema per test keeps tests (and developers running suites side by side) apart
    without the cost of creating a database each time.
    """
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on a real SQLite file and on real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A real HTTP server on 127.0.0.1 (see tests/httpserver.py for its routes)."""
    with HttpServer() as server:
        yield server
