"""Database engine, the unit of work, and the column types every model shares.

Money is uint256 end to end. PostgreSQL stores it as NUMERIC(78,0); SQLite would silently turn a
big NUMERIC into a float, so there it is a fixed-width zero-padded decimal string, which keeps
equality and ordering exact in SQL too.

Writers on SQLite. SQLite has one writer at a time, and a writer that finds the database locked
polls with growing sleeps (1 ms up to 100 ms): under a crowd of writers that is a convoy, where
an unlucky request sleeps for seconds while others get through. So every write transaction of a
process first takes one in-process lock per database file (threads wait on it and are woken in
turn, nobody polls), then `BEGIN IMMEDIATE`, and holds both until it commits or rolls back. The
busy timeout stays as the fallback between processes. Reads never take the lock (WAL).
`hold_writes` takes it on purpose, before the reads a write depends on.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import (
    CHAR,
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Numeric,
    String,
    TypeDecorator,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeEngine

from ledger.kit.errors import LedgerError

UINT256_MAX = 2**256 - 1
UINT256_DIGITS = 78  # len(str(2**256 - 1))


class UInt256(TypeDecorator[int]):
    """An exact uint256: NUMERIC(78,0) on PostgreSQL, 78-digit zero-padded text elsewhere."""

    impl = String(UINT256_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(UINT256_DIGITS, 0, asdecimal=True))
        return dialect.type_descriptor(CHAR(UINT256_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"uint256 columns take int, got {type(value).__name__}")
        if not 0 <= value <= UINT256_MAX:
            raise ValueError(f"{value} is outside uint256")
        if dialect.name == "postgresql":
            return Decimal(value)
        return str(value).zfill(UINT256_DIGITS)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused; use datetime.now(UTC)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Stable constraint names so migrations stay reproducible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


WRITE_LOCK_TIMEOUT = 30.0  # seconds, as the busy timeout
_WRITE_KEYWORDS = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_writer_locks: dict[str, threading.Lock] = {}
_engine_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_writer_locks_guard = threading.Lock()


class WriterBusy(RuntimeError):
    """The database's writer lock was not free within the timeout."""


def _writer_lock(database: str) -> threading.Lock:
    """One lock per database file in this process, shared by every engine opened on it."""
    key = str(Path(database).resolve()) if database and database != ":memory:" else database
    with _writer_locks_guard:
        return _writer_locks.setdefault(key, threading.Lock())


def _sqlite_begin_write(connection: Connection, lock: threading.Lock) -> None:
    """Makes the connection's transaction a write transaction: the process's writer lock, then
    BEGIN IMMEDIATE. A no-op when it already is one."""
    if connection.info.get("writing"):
        return
    if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT):
        raise WriterBusy(f"no write access to the database within {WRITE_LOCK_TIMEOUT:.0f}s")
    connection.info["writing"] = True
    try:
        driver: Any = connection.connection.driver_connection
        if driver.in_transaction:
            # A transaction the driver opened itself (it only does so before a write): it
            # already holds SQLite's write lock.
            return
        driver.execute("BEGIN IMMEDIATE")
    except BaseException:
        connection.info["writing"] = False
        lock.release()
        raise


def _install_sqlite_writer(engine: Engine, lock: threading.Lock) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _first_write(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if not connection.info.get("writing") and statement.lstrip()[:7].upper().startswith(
            _WRITE_KEYWORDS
        ):
            _sqlite_begin_write(connection, lock)

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        # A session hands its connection back right after its commit or rollback has finished
        # (a ConnectionEvents.commit hook would run before it), and the pool rolls back whatever
        # is still open: the lock is released once SQLite's own is.
        if record.info.pop("writing", False):
            lock.release()


#: SQLite's `synchronous` for durable commits (the WAL is synced at each commit) and for the
#: crowd's calls (synced at checkpoints only): see `Database.unit_of_work`.
_DURABLE = "FULL"
_FAST = "NORMAL"


def _set_synchronous(session: Session, level: str) -> None:
    """Sets the session's SQLite connection to `level` before its transaction begins (SQLite
    refuses to change it inside one); a pooled connection remembers its level, so this costs a
    statement only when the level changes."""
    connection = session.connection()
    if connection.info.get("synchronous") == level:
        return
    driver: Any = connection.connection.driver_connection
    driver.execute(f"PRAGMA synchronous={level}")
    connection.info["synchronous"] = level


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=POOL_SIZE,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
            # WAL lets the API read while the mirror writes; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute(f"PRAGMA synchronous={_DURABLE}")
            cursor.close()
            record.info["synchronous"] = _DURABLE

        lock = _writer_lock(url.database or "")
        _install_sqlite_writer(engine, lock)
        _engine_locks[engine] = lock
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=8)
    _ping_when_idle(engine)
    return engine


#: A pooled PostgreSQL connection idle longer than this is checked before use.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """`pool_pre_ping` costs a round trip on every checkout, so on every request; a connection
    that was just used is alive, so only one idle for a while (the server may have restarted
    or dropped it meanwhile) is pinged. A dead one is replaced before anybody uses it."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("checked_in_at")
        if last is None or time.monotonic() - last < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:
            # tells the pool to throw the connection away and try a fresh one
            raise DisconnectionError(f"connection lost while idle: {exc}") from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()


class SchemaOutdated(LedgerError):
    code = "schema_outdated"


def create_schema(engine: Engine) -> None:
    """Creates every missing table of the models, and refuses a database whose existing tables
    lack columns they need: nothing alters tables in place. For tests and benchmarks only: a
    service's database is made and changed by the revisions (`label-ledger db upgrade`,
    ledger.kit.migrate), and `Runtime` refuses one they did not bring to head."""
    # Importing the models registers every table on Base.metadata.
    import ledger.models  # noqa: F401, PLC0415 (models import this module)

    Base.metadata.create_all(engine)
    found = inspect(engine)
    missing = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name not in {c["name"] for c in found.get_columns(table.name)}
    ]
    if missing:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaOutdated(
            f"the database {where} was made by an earlier label-ledger: it lacks "
            f"{', '.join(missing[:3])}{' and more' if len(missing) > 3 else ''}. It cannot be "
            "upgraded in place: start over with `./scripts/up --fresh` (a local database), or "
            "point LABEL_LEDGER_DATABASE_URL at a new one"
        )


def hold_writes(session: Session) -> None:
    """Starts the session's write transaction now, before the reads a write depends on. On
    SQLite that serialises it with every other writer (the reads then see the latest commit and
    nothing changes under them until the commit); on PostgreSQL it does nothing: row locks,
    conditional updates and constraints carry the guarantees there."""
    connection = session.connection()
    lock = _engine_locks.get(connection.engine)
    if lock is not None:
        _sqlite_begin_write(connection, lock)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_many(
    session: Session, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Bulk insert straight to the driver, with values already in the form the column types
    store: SQLAlchemy would process every parameter of every row in Python first, which costs
    more than the driver's own work. PostgreSQL: one COPY; SQLite: the driver's executemany."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # COPY streams the rows in one command: several times faster than any INSERT
        driver: Any = connection.connection.driver_connection  # a psycopg connection
        command = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(command) as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["?"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 (fixed names)
    connection.exec_driver_sql(sql, list(rows))


def insert_for(session: Session, model: Any) -> Any:
    """An INSERT with `on_conflict_do_nothing` / `on_conflict_do_update`, in the dialect of the
    session's database (both support them)."""
    return postgresql.insert(model) if is_postgres(session) else sqlite.insert(model)


#: Requests of one process that may use the database at once (`api.deps.database_turn`)...
REQUEST_TURNS = 32
#: ...and the connections the pool keeps: those, plus the background jobs' (mirror, settlement,
#: upkeep, uploads) with room to spare, so a request never waits for a connection.
POOL_SIZE = REQUEST_TURNS + 8


class Database:
    """An engine plus its session factory: one per process, passed to whoever needs it."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._turns: anyio.Semaphore | None = None
        self._sqlite = self.engine.dialect.name == "sqlite"

    @property
    def request_turns(self) -> anyio.Semaphore:
        """The API's turns at the database (made in the event loop's thread on first use)."""
        if self._turns is None:
            self._turns = anyio.Semaphore(REQUEST_TURNS)
        return self._turns

    def create_schema(self) -> None:
        create_schema(self.engine)

    @contextmanager
    def unit_of_work(self, *, durable: bool = True) -> Iterator[Session]:
        """One transaction: commits if the block succeeds, rolls back if it raises.

        `durable=False` is for the calls a crowd makes all the time (next-item, a label, skip,
        release): on SQLite their commit does not wait for the disk (`synchronous=NORMAL` in WAL
        mode), so the one writer at a time holds the write lock for the work only, not for an
        fsync. The database stays consistent whatever happens; a power loss or an operating
        system crash (not a crash of this process) may take back the last such commits, and
        only those: every durable commit syncs the write-ahead log up to itself, so whatever a
        settlement reads and commits, its own commit makes durable first. PostgreSQL commits
        every transaction durably either way."""
        session = self.sessions()
        if self._sqlite:
            _set_synchronous(session, _DURABLE if durable else _FAST)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
