"""SQLite commits durably except the crowd's own calls (see `Database.unit_of_work`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ledger.kit.db import Database

FULL, NORMAL = 2, 1  # what `PRAGMA synchronous` answers


def _level(db: Database, *, durable: bool) -> int:
    with db.unit_of_work(durable=durable) as session:
        level = session.execute(text("PRAGMA synchronous")).scalar_one()
        # a write in the same unit: the level was set before its transaction began
        session.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        session.execute(text("INSERT INTO probe VALUES (1)"))
    return int(level)


def test_crowd_calls_skip_the_fsync_and_every_other_commit_keeps_it(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        assert _level(db, durable=True) == FULL
        # the same pooled connection goes to NORMAL for a crowd call and back for the next
        assert _level(db, durable=False) == NORMAL
        assert _level(db, durable=False) == NORMAL
        assert _level(db, durable=True) == FULL
        with db.unit_of_work() as session:
            assert session.execute(text("SELECT COUNT(*) FROM probe")).scalar_one() == 4
    finally:
        db.engine.dispose()
