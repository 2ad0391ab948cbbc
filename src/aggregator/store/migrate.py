"""Alembic, run programmatically: no alembic.ini is needed on the user's disk."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from aggregator.store.engine import WRITE

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "aggregator:migrations"
_PG_LOCK = "SELECT pg_advisory_xact_lock(hashtext('aggregator.migrate:' || current_schema()))"


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """A config for ``alembic.command``; pass a connection to migrate, or a url for tooling."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> None:
    """Migrate to head in one transaction; a second process waits, then finds nothing to do.

    PostgreSQL serialises concurrent upgrades with a transaction-scoped advisory lock keyed
    on the schema; SQLite with ``BEGIN IMMEDIATE`` (its single writer lock).
    """
    with engine.execution_options(**WRITE).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(_PG_LOCK))
        cfg = alembic_config(conn)
        before = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(cfg).get_current_head()
        if before == head:
            return
        command.upgrade(cfg, "head")
    log.info("database migrated from=%s to=%s", before or "empty", head)
