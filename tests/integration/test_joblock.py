"""Job locks (ledger/kit/joblock.py) on SQLite and PostgreSQL: one holder at a time across
threads and processes, and a holder killed with SIGKILL lets go without anybody's help."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine

from ledger.kit.db import Database
from ledger.kit.joblock import JobBusy, holder_pid, job_lock, lock_file, lock_key, try_job_lock

HOLDER = """
import sys, time
from ledger.kit.db import Database
from ledger.kit.joblock import try_job_lock
db = Database(sys.argv[1])
with try_job_lock(db, sys.argv[2]) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(float(sys.argv[3]))
print("released", flush=True)
"""


@contextmanager
def holder(url: str, name: str, seconds: float = 600) -> Iterator[subprocess.Popen[str]]:
    """Another process holding job `name` for `seconds` (it says so before we go on)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, name, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_one_holder_at_a_time_within_a_process(db: Database) -> None:
    with job_lock(db, "settlement"):
        with try_job_lock(db, "settlement") as again:
            assert again is False
        with pytest.raises(JobBusy) as busy, job_lock(db, "settlement"):
            pytest.fail("a second holder got in")
        assert busy.value.status_code == 409
        assert busy.value.code == "job_busy"
        with try_job_lock(db, "mirror") as other:
            assert other is True  # another job is another lock
    with try_job_lock(db, "settlement") as after:
        assert after is True


def test_threads_racing_for_a_lock_get_it_one_at_a_time(db: Database) -> None:
    inside = 0
    most = 0
    wins = 0
    guard = threading.Lock()
    start = threading.Barrier(8)

    def contend() -> None:
        nonlocal inside, most, wins
        start.wait()
        for _ in range(20):
            with try_job_lock(db, "publication") as held:
                if not held:
                    continue
                with guard:
                    inside += 1
                    wins += 1
                    most = max(most, inside)
                time.sleep(0.002)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert most == 1
    assert wins >= 1


def test_another_process_holding_the_lock_keeps_us_out_until_it_lets_go(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    with holder(url, "upkeep", seconds=1.0) as process:
        with try_job_lock(db, "upkeep") as held:
            assert held is False
        with try_job_lock(db, "mirror") as other:
            assert other is True
        # waiting: the holder lets go after a second and we get it then
        started = time.monotonic()
        with job_lock(db, "upkeep", wait=20):
            assert time.monotonic() - started > 0.2
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "released"


def test_a_holder_killed_with_sigkill_releases_the_lock(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    with holder(url, "settlement") as process:
        with try_job_lock(db, "settlement") as held:
            assert held is False
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        # PostgreSQL ends the dead client's session as soon as its socket closes; no expiry
        with job_lock(db, "settlement", wait=10):
            pass
    if db.engine.dialect.name == "sqlite":
        assert db.engine.url.database is not None
        assert lock_file(db.engine.url.database, "settlement").exists()


def test_the_lock_key_is_the_same_in_every_process() -> None:
    here = lock_key("settlement")
    there = subprocess.run(
        [
            sys.executable,
            "-c",
            "from ledger.kit.joblock import lock_key; print(lock_key('settlement'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert int(there.stdout) == here
    assert -(2**63) <= here < 2**63
    assert lock_key("settlement") != lock_key("publication")
    assert lock_key("settlement", "public") != lock_key("settlement", "other_schema")


def test_an_in_memory_database_locks_within_its_process() -> None:
    # Database() refuses an in-memory URL (its pool); an engine on one is what the lock reads
    db = Database.__new__(Database)
    db.engine = create_engine("sqlite://")
    try:
        with job_lock(db, "settlement"), try_job_lock(db, "settlement") as again:
            assert again is False
        with try_job_lock(db, "settlement") as after:
            assert after is True
    finally:
        db.engine.dispose()


def test_a_job_name_is_a_plain_word(db: Database) -> None:
    with pytest.raises(ValueError, match="job names"), try_job_lock(db, "../etc/passwd"):
        pass


def test_holder_pid_names_the_process_holding_a_job(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    assert holder_pid(db, "mirror") is None
    with holder(url, "mirror") as process:
        assert holder_pid(db, "mirror") == process.pid
        assert holder_pid(db, "upkeep") is None
    with job_lock(db, "mirror"):
        assert holder_pid(db, "mirror") == os.getpid()
