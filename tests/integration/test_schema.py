"""A database made by an earlier label-ledger is refused with what to do, not used half-way:
tables are created, never altered in place."""

from __future__ import annotations

import pytest
from sqlalchemy import text

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
