"""Schema migrations: bring a database to the schema this label-ledger needs, and refuse to run
on one that is not there.

The revisions live in `ledger/migrations/versions/` (Alembic, configured here: no alembic.ini).
`upgrade` applies the missing ones in order, each in one transaction (SQLite too: its DDL is
transactional once the driver's own BEGINs are off), and tells `progress` about each. It holds
a lock for the whole upgrade, so two processes that start at once do not both migrate: a
PostgreSQL advisory lock named after the database's schema, or on SQLite a lock file beside the
database file; the second waits, then finds nothing left to do.

A database made before migrations existed (the release of revision 0001, "baseline") has every
table and no `alembic_version`: `upgrade` checks that it has each baseline table and column,
records it as at 0001, and goes on. One that lacks any is refused as before: nothing guesses.

The service itself never changes the schema: `Runtime.from_settings` calls `require_head`,
which refuses a database that is not at this version's revision with `SchemaOutdated` and says
to run `label-ledger db upgrade`. `check` compares a database at head with the models, as
`alembic check` does: a difference is a model change without its revision.
"""

from __future__ import annotations

import fcntl
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeEngine

from ledger.kit.db import UINT256_DIGITS, Base, SchemaOutdated, UInt256, UTCDateTime
from ledger.kit.errors import LedgerError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: The revision whose schema is that of the last release made before migrations existed.
BASELINE = "0001"
VERSION_TABLE = "alembic_version"
#: Named in the PostgreSQL advisory lock, with the schema the database's tables live in.
LOCK_NAME = "label-ledger schema migration "
UPGRADE_COMMAND = "label-ledger db upgrade"

Progress = Callable[[str], None]

# Alembic's INFO lines ("Context impl SQLiteImpl.", "Running upgrade ...") repeat what `progress`
# says, in the middle of the commands' own output.
logging.getLogger("alembic").setLevel(logging.WARNING)


class MigrationFailed(LedgerError):
    code = "migration_failed"


def _quiet(_line: str) -> None:
    return None


# --- what Alembic is told: the same for running revisions, writing them and checking drift ---


def metadata() -> MetaData:
    """Every table of the models."""
    import ledger.models  # noqa: F401, PLC0415 (models import ledger.kit.db, as this does)

    return Base.metadata


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes the models' own column types into a revision: as the storage type
    each becomes (what `create_all` made), so a revision keeps its meaning if the type's Python
    side changes later, and needs nothing but SQLAlchemy to import."""
    if type_ != "type" or not isinstance(obj, TypeEngine):
        return False
    if isinstance(obj, UInt256):
        return (
            f'sa.CHAR({UINT256_DIGITS}).with_variant(sa.NUMERIC({UINT256_DIGITS}, 0), "postgresql")'
        )
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    module = type(obj).__module__
    if module.startswith("ledger."):  # a type added later: imported from where it lives
        autogen_context.imports.add(f"import {module}")
        return f"{module}.{obj!r}"
    return False


def context_options() -> dict[str, Any]:
    """Alembic's options for label-ledger: types compared (a TypeDecorator by the storage type it
    compiles to on the dialect at hand, so UInt256 and UTCDateTime show no false drift), batch
    operations in written revisions (SQLite rebuilds a table to alter it; PostgreSQL runs them
    as plain ALTERs), and one real transaction per revision on both dialects."""
    return {
        "target_metadata": metadata(),
        "compare_type": True,
        "render_as_batch": True,
        "render_item": render_item,
        "transactional_ddl": True,
    }


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this label-ledger's models are at."""
    revision = _script().get_current_head()
    assert revision is not None, f"no revision in {MIGRATIONS}"
    return revision


# --- connections ---


def _engine(database_url: str) -> Engine:
    """An engine of its own for migrating: no pool, and on SQLite every transaction is a real
    one begun with BEGIN IMMEDIATE (DDL included; the driver would begin one only before DML),
    with foreign keys off as SQLite's table rebuilds need (env.py checks them before commit)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA busy_timeout=30000")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, poolclass=NullPool)


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def _file_lock(path: Path, say: Progress) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another upgrade of this database to finish...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _migration_lock(engine: Engine, say: Progress) -> Iterator[Connection]:
    """A connection no other migration of this database runs beside: the lock is held for the
    whole upgrade, across the transactions of its revisions."""
    if engine.dialect.name == "postgresql":
        key = "hashtext(:name || coalesce(current_schema(), ''))"
        with engine.connect() as connection:
            taken = connection.execute(
                text(f"SELECT pg_try_advisory_lock({key})"), {"name": LOCK_NAME}
            ).scalar_one()
            if not taken:
                say("waiting for another upgrade of this database to finish...")
                connection.execute(text(f"SELECT pg_advisory_lock({key})"), {"name": LOCK_NAME})
            connection.commit()
            try:
                yield connection
            finally:
                # closing the connection would release it too
                with suppress(Exception):
                    connection.rollback()
                    connection.execute(
                        text(f"SELECT pg_advisory_unlock({key})"), {"name": LOCK_NAME}
                    )
                    connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with _file_lock(Path(f"{database}.migrate-lock"), say), engine.connect() as connection:
            yield connection
        return
    with engine.connect() as connection:
        yield connection


@contextmanager
def holding_lock(database_url: str, progress: Progress | None = None) -> Iterator[None]:
    """Holds the lock `upgrade` takes for the block: no upgrade of the database runs meanwhile
    (one that starts waits, and says so)."""
    engine = _engine(database_url)
    try:
        with _migration_lock(engine, progress or _quiet):
            yield
    finally:
        engine.dispose()


def _heads(connection: Connection) -> tuple[str, ...]:
    heads = MigrationContext.configure(connection).get_current_heads()
    if connection.in_transaction():
        connection.commit()
    return tuple(heads)


def _tables(connection: Connection) -> set[str]:
    names = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
    if connection.in_transaction():
        connection.commit()
    return names


# --- the database made before migrations ---


@cache
def baseline_columns() -> dict[str, frozenset[str]]:
    """Each table of revision 0001 and its columns, as that revision makes them (on an empty
    in-memory SQLite database)."""
    engine = _engine("sqlite://")
    try:
        with engine.connect() as connection:
            command.upgrade(_config(connection), BASELINE)
            found = inspect(connection)
            return {
                table: frozenset(column["name"] for column in found.get_columns(table))
                for table in found.get_table_names()
                if table != VERSION_TABLE
            }
    finally:
        engine.dispose()


def _adopt_unversioned(connection: Connection, say: Progress) -> None:
    """A database with label-ledger's tables and no recorded revision was made before
    migrations: recorded as at the baseline if it has all of it, refused otherwise."""
    tables = _tables(connection)
    if _heads(connection) or not tables:
        return
    baseline = baseline_columns()
    if not tables & baseline.keys():
        return  # somebody else's tables only: ours are created beside them
    found = inspect(connection)
    missing = [
        f"{table}.{column}" if table in tables else table
        for table, columns in sorted(baseline.items())
        for column in (
            sorted(columns - {c["name"] for c in found.get_columns(table)})
            if table in tables
            else [""]
        )
    ]
    if connection.in_transaction():
        connection.commit()
    if missing:
        raise SchemaOutdated(
            f"the database {_where(connection.engine)} was made by a label-ledger older than "
            f"the last release before migrations: it lacks {', '.join(missing[:3])}"
            f"{' and more' if len(missing) > 3 else ''}. It cannot be upgraded in place: start "
            "over with `./scripts/up --fresh` (a local database), or point "
            "LABEL_LEDGER_DATABASE_URL at a new one"
        )
    say(
        f"the database was made before migrations and has the whole schema of revision "
        f"{BASELINE}: recorded as at {BASELINE}"
    )
    command.stamp(_config(connection), BASELINE)


# --- what the commands do ---


def _pending(current: tuple[str, ...], target: str, where: str) -> list[str]:
    script = _script()
    try:
        # newest first, the current revision excluded
        steps = list(script.iterate_revisions(target, current[0] if current else "base"))
    except (CommandError, RevisionError) as exc:
        raise SchemaOutdated(
            f"the database {where} is at schema revision {', '.join(current)}, which this "
            f"label-ledger does not know ({exc}): it was upgraded by a newer label-ledger. Run "
            "that one, or restore a backup made before"
        ) from exc
    return [step.revision for step in reversed(steps)]


def upgrade(
    database_url: str, *, target: str = "head", progress: Progress | None = None
) -> list[str]:
    """Brings the database to `target` (this label-ledger's revision by default), one revision
    per transaction, and returns the revisions it applied (none when it already was there).
    `progress` hears of each revision as it starts and ends."""
    say = progress or _quiet
    engine = _engine(database_url)
    try:
        with _migration_lock(engine, say) as connection:
            _adopt_unversioned(connection, say)
            start = _heads(connection)
            pending = _pending(start, target, _where(engine))
            total = len(pending)
            for number, revision in enumerate(pending, 1):
                doc = _script().get_revision(revision)
                about = doc.doc if doc is not None else ""
                say(f"applying revision {revision} ({about}), {number} of {total}...")
                began = time.monotonic()
                try:
                    command.upgrade(_config(connection), revision)
                except SQLAlchemyError as exc:
                    at = pending[number - 2] if number > 1 else ",".join(start) or "none"
                    raise MigrationFailed(
                        f"revision {revision} failed and was rolled back, the database stays at "
                        f"revision {at}: {getattr(exc, 'orig', None) or exc}"
                    ) from exc
                say(f"applied revision {revision} in {time.monotonic() - began:.2f}s")
            return pending
    finally:
        engine.dispose()


def downgrade(database_url: str, target: str) -> None:
    """Takes the database back to `target` ("base": no table at all), under the same lock.
    Revisions that would lose data say so in their own downgrade."""
    engine = _engine(database_url)
    try:
        with _migration_lock(engine, _quiet) as connection:
            command.downgrade(_config(connection), target)
    finally:
        engine.dispose()


def stamp(database_url: str, revision: str = "head") -> None:
    """Records the database as at `revision` without running anything: for a schema made
    another way (the tests' `create_all` while a model change awaits its revision)."""
    engine = _engine(database_url)
    try:
        with _migration_lock(engine, _quiet) as connection:
            command.stamp(_config(connection), revision)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Status:
    current: str | None  # None: no revision recorded
    head: str
    tables: int  # label-ledger's or not, the version table aside

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    @property
    def known(self) -> bool:
        """Whether this label-ledger has the revision the database is at (none counts)."""
        return self.current is None or all(_known(each) for each in self.current.split(","))


def status(database_url: str) -> Status:
    engine = _engine(database_url)
    try:
        with engine.connect() as connection:
            heads = _heads(connection)
            return Status(
                current=",".join(heads) or None, head=head(), tables=len(_tables(connection))
            )
    finally:
        engine.dispose()


def current(database_url: str) -> str | None:
    """The revision the database is at; None when none is recorded (empty, or made before
    migrations)."""
    return status(database_url).current


def _outdated(where: str, heads: tuple[str, ...], tables: set[str]) -> SchemaOutdated | None:
    want = head()
    if heads == (want,):
        return None
    if not heads and not tables:
        return SchemaOutdated(
            f"the database {where} has no tables yet: run `{UPGRADE_COMMAND}` to create them "
            "(it upgrades the database LABEL_LEDGER_DATABASE_URL names)"
        )
    if not heads:
        return SchemaOutdated(
            f"the database {where} was made by an earlier label-ledger, before migrations: run "
            f"`{UPGRADE_COMMAND}` to bring it to this version's schema (back it up first)"
        )
    if not all(_known(revision) for revision in heads):
        return SchemaOutdated(
            f"the database {where} is at schema revision {', '.join(heads)}, which this "
            "label-ledger does not know: a newer label-ledger upgraded it. Run that one, or "
            "restore a backup made before"
        )
    return SchemaOutdated(
        f"the database {where} is at schema revision {', '.join(heads)} and this label-ledger "
        f"needs {want}: run `{UPGRADE_COMMAND}` (back it up first), then start again"
    )


def _known(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def require_head_of(database_url: str) -> None:
    """`require_head` on the database of a URL, with a connection of its own."""
    engine = _engine(database_url)
    try:
        require_head(engine)
    finally:
        engine.dispose()


def require_head(engine: Engine) -> None:
    """Refuses (SchemaOutdated) a database that is not at this label-ledger's revision."""
    with engine.connect() as connection:
        heads = tuple(MigrationContext.configure(connection).get_current_heads())
        tables = set() if heads else set(inspect(connection).get_table_names())
    problem = _outdated(_where(engine), heads, tables)
    if problem is not None:
        raise problem


def _describe(difference: Any) -> str:  # noqa: PLR0911 (one answer per kind of difference)
    """One difference `compare_metadata` found, in words."""
    if isinstance(difference, list):
        return "; ".join(_describe(part) for part in difference)
    operation, *args = difference
    if operation in {"add_table", "remove_table"}:
        return f"{operation} {args[0].name}"
    if operation in {"add_column", "remove_column"}:
        _schema, table, column = args
        return f"{operation} {table}.{column.name} {column.type}"
    if operation in {"add_index", "remove_index"}:
        index = args[0]
        columns = ", ".join(str(expression) for expression in index.expressions)
        return f"{operation} {index.name} on {index.table.name} ({columns})"
    if operation in {"add_constraint", "remove_constraint", "add_fk", "remove_fk"}:
        constraint = args[0]
        return f"{operation} {constraint.name} on {constraint.table.name}"
    if operation.startswith("modify_"):
        _schema, table, column, _existing, old, new = args
        return f"{operation} {table}.{column}: {old} -> {new}"
    return repr(difference)


def check(database_url: str) -> list[str]:
    """What differs between the database (which must be at head) and the models: nothing when
    every model change has its revision. Each difference in words."""
    engine = _engine(database_url)
    try:
        with engine.connect() as connection:
            heads = _heads(connection)
            problem = _outdated(_where(engine), heads, _tables(connection))
            if problem is not None:
                raise problem
            context = MigrationContext.configure(connection, opts=context_options())
            differences = compare_metadata(context, metadata())
            return [_describe(difference) for difference in differences]
    finally:
        engine.dispose()


def revision(message: str, rev_id: str, *, database_url: str | None = None) -> Path:
    """Writes a new revision from what the models have and the last revision lacks
    (autogenerate), compared on `database_url`, by default a new SQLite database brought to
    head. For developers: read it, and make sure it never drops data, before committing it."""
    with tempfile.TemporaryDirectory() as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'head.sqlite'}"
        upgrade(url)
        engine = _engine(url)
        try:
            with _migration_lock(engine, _quiet) as connection:
                written = command.revision(
                    _config(connection), message=message, autogenerate=True, rev_id=rev_id
                )
        finally:
            engine.dispose()
    assert written is not None
    assert not isinstance(written, list)
    return Path(written.path)
