"""Alembic's entry point: runs the revisions on the connection `ledger.kit.migrate` hands over
(it holds the migration lock on it). There is no offline (`--sql`) mode.

Every option that decides what a revision does or what autogenerate sees comes from
`ledger.kit.migrate.context_options`, shared with its drift check."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ledger.kit.migrate import MigrationFailed, context_options

config = context.config


def _check_foreign_keys(connection: Connection) -> None:
    """SQLite migrations run with its foreign keys off (a batch migration copies a table to a
    new one and drops the old), so they are checked before the revision commits."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if broken:
        shown = ", ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in broken[:5])
        raise MigrationFailed(f"the revision left rows whose foreign keys point nowhere: {shown}")


def run_online() -> None:
    connection = config.attributes.get("connection")
    assert isinstance(connection, Connection), "ledger.kit.migrate hands over the connection"
    context.configure(
        connection=connection,
        on_version_apply=config.attributes.get("on_version_apply"),
        **context_options(),
    )
    with context.begin_transaction():
        context.run_migrations()
        _check_foreign_keys(connection)


run_online()
