"""A database made by an earlier label-ledger is refused with what to do, not used half-way:
tables are created, never altered in place."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from ledger.kit.db import Database, SchemaOutdated


def test_a_database_lacking_a_column_is_refused_with_what_to_do(database_url: str) -> None:
    old = Database(database_url)
    old.create_schema()
    with old.engine.begin() as connection:
        connection.execute(text("ALTER TABLE items DROP COLUMN skips"))
    old.engine.dispose()

    again = Database(database_url)
    with pytest.raises(SchemaOutdated) as refused:
        again.create_schema()
    again.engine.dispose()
    assert "lacks items.skips" in refused.value.message
    assert "./scripts/up --fresh" in refused.value.message


def test_a_connection_the_server_dropped_while_idle_is_replaced_not_used(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("only a PostgreSQL server drops a connection; SQLite has none to drop")
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = create_engine(database_url, poolclass=NullPool)
        with admin.connect() as other:  # the server drops the idle one
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")  # type: ignore[arg-type]
            other.commit()
        admin.dispose()
        # idle long enough to be checked before use
        for record in list(database.engine.pool._pool.queue):  # type: ignore[attr-defined]
            record.info["checked_in_at"] = 0.0
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
    finally:
        database.engine.dispose()
