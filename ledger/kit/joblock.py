"""Named job locks that hold across every process on one database.

A job (settling an epoch, syncing the mirror, writing the publication, ...) must run at most once
at a time however many `label-ledger worker`s and `serve` processes share the database. A
`threading.Lock` only covers its own interpreter, so the lock lives where every process meets:

- PostgreSQL: a session-level `pg_try_advisory_lock(key)` on a connection of its own, opened for
  the job and closed after it (outside the pool: a pooled connection handed back while holding
  a session lock would keep it). The key is the first 8 bytes of sha256 of the job's name (and
  of the schema the tables are in), the same in every process and release.
- SQLite (one machine): `flock(LOCK_EX | LOCK_NB)` on `<database file>.locks/<job>.lock`.
- In-memory SQLite: nothing else can see the database, so a lock of this process does.

Either way the operating system lets go if the holder dies, even by `kill -9`: its socket closes
and PostgreSQL ends its session (and so its locks); its file descriptors close and the flock goes
with them. Nobody has to notice a dead holder or expire anything.

In each process, one thread at a time goes to the database for a given job (a process-local lock
is taken first), so a crowd of callers costs at most one extra connection per job and process.

    with job_lock(db, "settlement"):          # raises JobBusy when another holder runs it
        ...
    with try_job_lock(db, "publication") as held:   # or: is it mine?
        if held:
            ...
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, NullPool, create_engine, event, text

from ledger.kit.db import Database
from ledger.kit.errors import Conflict

#: How often a waiting caller asks again (a lock across processes cannot wake it up).
POLL_SECONDS = 0.05

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class JobBusy(Conflict):
    code = "job_busy"


def lock_key(name: str, schema: str = "public") -> int:
    """The PostgreSQL advisory lock key of job `name`: a signed 64-bit integer, stable across
    processes, machines and releases (not Python's salted `hash`). Advisory locks are per
    database, so the schema the ledger's tables live in is part of the key: two ledgers in two
    schemas of one database do not wait for each other."""
    digest = hashlib.sha256(f"label-ledger job {schema}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(database_file: str | Path, name: str) -> Path:
    """Where job `name`'s flock lives beside a SQLite database file."""
    path = Path(database_file)
    return path.with_name(path.name + ".locks") / f"{name}.lock"


@contextmanager
def job_lock(db: Database, name: str, wait: float = 0) -> Iterator[None]:
    """Holds job `name` across every process on `db` for the block; raises `JobBusy` if another
    holder keeps it for longer than `wait` seconds (0: do not wait)."""
    with try_job_lock(db, name, wait=wait) as held:
        if not held:
            raise JobBusy(f"job {name!r} is running elsewhere; retry shortly")
        yield


@contextmanager
def try_job_lock(db: Database, name: str, wait: float = 0) -> Iterator[bool]:
    """Yields True while holding job `name` across every process on `db`, or False (and holds
    nothing) if another holder keeps it for longer than `wait` seconds."""
    if not _NAME.match(name):
        raise ValueError(f"job names are short lowercase words, not {name!r}")
    deadline = time.monotonic() + max(wait, 0.0)
    local = _local_lock(db, name)
    acquired = local.acquire(timeout=wait) if wait > 0 else local.acquire(blocking=False)
    if not acquired:
        yield False
        return
    try:
        backend = _backend(db)
        with backend.hold(name, deadline) as held:
            yield held
    finally:
        local.release()


# --- the process-local part -------------------------------------------------------------------

_locals: dict[tuple[str, str], threading.Lock] = {}
_locals_guard = threading.Lock()


def _local_lock(db: Database, name: str) -> threading.Lock:
    key = (db.engine.url.render_as_string(hide_password=False), name)
    with _locals_guard:
        return _locals.setdefault(key, threading.Lock())


# --- the backends -----------------------------------------------------------------------------


class _ProcessLocal:
    """In-memory SQLite: the process-local lock already taken is the whole lock."""

    @contextmanager
    def hold(self, _name: str, _deadline: float) -> Iterator[bool]:
        yield True


class _FileLock:
    def __init__(self, database_file: str) -> None:
        self.database_file = database_file

    @contextmanager
    def hold(self, name: str, deadline: float) -> Iterator[bool]:
        path = lock_file(self.database_file, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(POLL_SECONDS)
            # Who holds it, for a person looking (the lock is the flock, not this text).
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)  # closing alone would release it too


class _AdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def hold(self, name: str, deadline: float) -> Iterator[bool]:
        connection = self.engine.connect()
        try:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            key = lock_key(name, str(schema))
            while True:
                held = bool(
                    connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                    ).scalar_one()
                )
                # The lock is the session's, not the transaction's: end the transaction so
                # this connection does not sit idle in one for the job's duration.
                connection.commit()
                if held or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
        finally:
            # Closing ends the session (NullPool): whatever happened above, the lock is gone.
            connection.close()


_lock_engines: dict[str, Engine] = {}


def _backend(db: Database) -> Any:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or url.database.startswith("file::"):
            return _ProcessLocal()
        return _FileLock(url.database)
    if url.get_backend_name() == "postgresql":
        rendered = url.render_as_string(hide_password=False)
        with _locals_guard:
            engine = _lock_engines.get(rendered)
            if engine is None:
                engine = create_engine(url, poolclass=NullPool)
                event.listen(engine, "do_connect", _name_the_session)
                _lock_engines[rendered] = engine
        return _AdvisoryLock(engine)
    raise ValueError(f"job locks are not made for {url.get_backend_name()} databases")


def _name_the_session(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
    # pg_stat_activity then says which process holds a lock (holder_pid)
    cparams["application_name"] = f"{APPLICATION_NAME} {os.getpid()}"


APPLICATION_NAME = "label-ledger job lock, pid"


def holder_pid(db: Database, name: str) -> int | None:
    """The process id of whoever holds job `name` now (on its machine), or None when nobody
    does: for a person (or a test) asking which worker runs a job."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as connection:
            schema = str(connection.execute(text("SELECT current_schema()")).scalar_one())
            key = lock_key(name, schema)
            found = connection.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                    "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) "
                    "AND l.classid = :high AND l.objid = :low AND l.objsubid = 1"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            ).scalar()
        if found is None or not str(found).startswith(APPLICATION_NAME):
            return None
        return int(str(found).rsplit(" ", 1)[1])
    if not url.database or url.database == ":memory:":
        return None
    path = lock_file(url.database, name)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text_ = os.pread(fd, 32, 0).decode().strip()
            return int(text_) if text_.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
