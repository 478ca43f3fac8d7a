"""`label-ledger serve --workers N` and `label-ledger worker` as a deployment runs them: real
subprocesses of the real command on one PostgreSQL database and the test Anvil."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from ledger.chain.devnode import free_port
from ledger.kit.db import Database
from ledger.kit.joblock import holder_pid
from ledger.mirror import repository as mirror
from tests.integration.processes import Proc, children_of, settings_env, wait_for_api
from tests.support import Chain

pytestmark = pytest.mark.chain


def _env(chain: Chain, db: Database, tmp_path: Path, port: int | None = None) -> dict[str, str]:
    deployment_file = tmp_path / "deployment.json"
    chain.deployment.save(deployment_file)
    return settings_env(
        database_url=db.engine.url.render_as_string(hide_password=False),
        rpc_url=chain.client.rpc_url,
        deployment_file=deployment_file,
        publish_dir=tmp_path / "published",
        port=port,
        mirror_poll_seconds="0.2",
    )


def _mirrored(db: Database, chain: Chain) -> int:
    with db.unit_of_work() as session:
        cursor = mirror.get_cursor(session, chain.deployment.chain_id)
        return cursor.block_number if cursor else -1


def _wait_mirrored(db: Database, chain: Chain, block: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _mirrored(db, chain) < block:
        assert time.monotonic() < deadline, f"the mirror never reached block {block}"
        time.sleep(0.1)


@pytest.mark.parametrize("database_url", ["postgresql", "sqlite"], indirect=True)
def test_two_workers_run_each_job_once_and_one_takes_over_when_the_other_is_killed(
    chain: Chain, db: Database, tmp_path: Path
) -> None:
    env = _env(chain, db, tmp_path)
    first = Proc("worker-1", ["worker"], env, tmp_path / "worker-1.log").start()
    second = Proc("worker-2", ["worker"], env, tmp_path / "worker-2.log").start()
    try:
        for worker in (first, second):
            worker.wait_for("each runs in one worker at a time")
        chain.rpc("anvil_mine", 3)
        _wait_mirrored(db, chain, chain.client.w3.eth.block_number)
        holder = holder_pid(db, "mirror")
        assert holder in (first.pid, second.pid)
        survivor = second if holder == first.pid else first
        killed = first if holder == first.pid else second
        killed.kill()  # SIGKILL: no goodbye, its locks go with its sockets and descriptors

        chain.rpc("anvil_mine", 5)
        _wait_mirrored(db, chain, chain.client.w3.eth.block_number)
        assert holder_pid(db, "mirror") == survivor.pid
        assert survivor.stop() == 0
        assert "stopped: worker" in survivor.output()
        assert "Traceback" not in survivor.output()
    finally:
        first.kill()
        second.kill()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_serve_runs_n_api_processes_without_jobs_and_stops_them_on_sigterm(
    chain: Chain, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(chain, db, tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    serve = Proc(
        "serve", ["serve", "--port", str(port), "--workers", "2"], env, tmp_path / "serve.log"
    ).start()
    try:
        wait_for_api(url, serve)
        assert "not in this process: run" in serve.output()
        assert "worker` beside it" in serve.output()
        deadline = time.monotonic() + 30
        while len(workers := _api_processes(serve.pid)) < 2:
            assert time.monotonic() < deadline, f"not 2 API processes: {serve.output()}"
            time.sleep(0.2)
        assert len(workers) == 2
        # each listens on a socket of its own once it has started (looked up afresh each time:
        # uvicorn replaces a worker that did not start, under a new pid)
        while not (
            len(workers := _api_processes(serve.pid)) == 2
            and all(_established(pid, port, "0A") for pid in workers)
        ):
            assert time.monotonic() < deadline, f"not 2 listening processes: {serve.output()}"
            time.sleep(0.2)
        # connections opened in one burst and kept open spread over both processes (each has
        # a listening socket of its own): none is left idle behind the other
        clients = [httpx.Client(base_url=url, timeout=10) for _ in range(16)]
        try:
            for client in clients:
                assert client.get("/v1/health").status_code == 200
            held = {pid: _established(pid, port) for pid in workers}
            assert sum(held.values()) == len(clients), held
            assert all(held.values()), held
        finally:
            for client in clients:
                client.close()
        # the API ran no job: nobody mirrored anything
        assert _mirrored(db, chain) == -1
        assert holder_pid(db, "mirror") is None
        assert serve.stop() == 0, serve.output()
        assert not [p for p in workers if Path(f"/proc/{p}").exists()]
    finally:
        serve.kill()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_api_processes_end_with_serve_even_when_it_is_killed(
    chain: Chain, db: Database, tmp_path: Path
) -> None:
    port = free_port()
    serve = Proc(
        "serve",
        ["serve", "--port", str(port), "--workers", "2"],
        _env(chain, db, tmp_path, port),
        tmp_path / "serve.log",
    ).start()
    try:
        wait_for_api(f"http://127.0.0.1:{port}", serve)
        deadline = time.monotonic() + 30
        while len(workers := _api_processes(serve.pid)) < 2:
            assert time.monotonic() < deadline, serve.output()
            time.sleep(0.2)
        serve.kill()  # SIGKILL: uvicorn's supervisor cannot stop its workers itself
        deadline = time.monotonic() + 30
        while alive := [p for p in workers if _running(p)]:
            assert time.monotonic() < deadline, f"orphaned API processes {alive} live on"
            time.sleep(0.2)
    finally:
        serve.kill()


def _running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _api_processes(pid: int) -> list[int]:
    """uvicorn's worker processes under `pid` (not multiprocessing's resource tracker)."""
    return [p for p in children_of(pid) if "spawn_main" in _cmdline(p)]


def _established(pid: int, port: int, state: str = "01") -> int:
    """How many TCP sockets on local port `port` process `pid` holds in `state` (01:
    established, 0A: listening)."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return 0  # the process is gone
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state and fields[9] in inodes:
                count += 1
    return count


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
