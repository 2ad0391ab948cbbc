"""Alembic environment: migrates the connection the store hands in (see store/migrate.py).

New revision, from a checkout (then review it, and write types as plain ``sa.*`` types)::

    python -c "from alembic import command; from aggregator.store.migrate import alembic_config;
    command.revision(alembic_config(url='sqlite:///dev.db'), 'what changed', autogenerate=True)"

Tables land in the connection's default schema (PostgreSQL: the first of search_path).
SQLite uses batch mode, because it can only alter tables by rebuilding them.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from aggregator.store.engine import make_engine
from aggregator.store.tables import metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic_config() needs a connection or a url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _migrate(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them against a database")
run()
