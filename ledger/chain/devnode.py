"""A local Anvil process from the npm package: started by `up` and by the tests, stopped by them.

The chain's state survives a restart, and a `kill -9` loses at most about `state_interval`
seconds (1 s by default) of blocks. Anvil's own `--state FILE --state-interval N` was not good
enough: N is whole seconds (at least 1; 0 panics), and Anvil truncates FILE and rewrites it in
place (crates/common/src/fs.rs `write_json_file`), so a kill during a write leaves a torn file
that Anvil then refuses to start from ("EOF while parsing"). Here Anvil only ever *reads* the
file (`--load-state`, when it exists); a thread of the process that started it asks for the state
(`anvil_dumpState`, the same JSON gzip-compressed) whenever the chain's head moved, at most every
`state_interval` seconds, and writes it atomically (a temporary file, fsync, rename, fsync of the
directory): the file on disk is always a complete state, at most one interval plus one dump old.
An idle chain costs nothing. `stop()` writes a last dump before it stops Anvil.

What a `kill -9` can still lose: the blocks mined since the last completed dump (the last
~`state_interval` seconds plus the dump's own duration), and the transaction pool. The tests in
tests/integration/test_devnode.py measure it; the settlement and the mirror recover from it
(ledger.settlement.service `recover_lost`, ledger.mirror.service's rewind).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from ledger.chain.artifacts import PROJECT_ROOT
from ledger.kit.errors import LedgerError

# Anvil's first dev account: a publicly known key, only ever funded on a local dev chain.
DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)


class AnvilMissing(LedgerError, FileNotFoundError):
    code = "anvil_missing"


class AnvilStateUnreadable(LedgerError):
    """The saved chain state is not a complete state file."""

    code = "anvil_state_unreadable"


log = logging.getLogger(__name__)

#: Seconds between two state dumps while blocks are being mined (at most this much is lost).
STATE_INTERVAL = 1.0


class AnvilPortTaken(LedgerError):
    """Another process listens on the port this Anvil was to listen on."""

    code = "anvil_port_taken"


def find_anvil() -> str:
    """The real binary shipped by @foundry-rs/anvil's platform package, else one on PATH."""
    override = os.environ.get("LABEL_LEDGER_ANVIL")
    if override:
        return override
    scope = PROJECT_ROOT / "node_modules" / "@foundry-rs"
    for candidate in sorted(scope.glob("anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("anvil")
    if on_path:
        return on_path
    raise AnvilMissing(
        "anvil not found: run `npm ci` in the repository (it installs @foundry-rs/anvil), "
        "or set LABEL_LEDGER_ANVIL to an anvil binary"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Anvil:
    """Runs `anvil` on a free port until stopped (a context manager)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        block_time: float | None = None,
        chain_id: int = 31337,
        log_path: Path | None = None,
        state_path: Path | None = None,
        state_interval: float = STATE_INTERVAL,
    ) -> None:
        # A port of our choosing is chosen again when someone takes it before Anvil binds it.
        self._port_chosen_here = port is None
        self.port = port or free_port()
        self.state_path = state_path
        self.state_interval = state_interval
        self._dumper: threading.Thread | None = None
        self._stop_dumping = threading.Event()
        self._dump_lock = threading.Lock()
        self._dumped_head: str | None = None
        self.dumps = 0  # state files written, for tests and logs
        self.block_time = block_time
        self.chain_id = chain_id
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Anvil:
        attempts = 3 if self._port_chosen_here else 1
        for attempt in range(attempts):
            try:
                return self._start_once()
            except AnvilPortTaken:
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def _start_once(self) -> Anvil:
        # Anvil writes --config-out only once it has bound its port; one that finds the port taken
        # exits without writing it. An answer on the port alone proves nothing: when two Anvils are
        # started on one port at once, the loser may not have exited yet while the winner answers,
        # and the loser's owner would then deploy onto (and race nonces with) a chain not its own.
        config_out = Path(tempfile.gettempdir()) / f"label-ledger-anvil-{uuid.uuid4().hex}.json"
        args = [
            find_anvil(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
            "--config-out",
            str(config_out),
        ]
        if self.block_time:
            args += ["--block-time", str(self.block_time)]
        if self.state_path is not None and _has_state(self.state_path):
            # Anvil only reads it: this process writes it, atomically (see the module docstring).
            args += ["--load-state", str(self.state_path)]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    with socket.socket() as probe:
                        taken = probe.connect_ex(("127.0.0.1", self.port)) == 0
                    if taken:
                        raise AnvilPortTaken(
                            f"port {self.port} is taken by another process: anvil could not listen"
                        )
                    raise AnvilMissing(f"anvil exited with code {self.process.returncode} at start")
                if config_out.exists() and self._answers():
                    self._start_dumping()
                    return self
                time.sleep(0.05)
            self.stop()
            raise AnvilMissing(f"anvil did not answer on {self.rpc_url} within 20s")
        finally:
            config_out.unlink(missing_ok=True)

    def _answers(self) -> bool:
        try:
            httpx.post(
                self.rpc_url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=1,
            )
        except httpx.HTTPError:
            return False
        return True

    # --- the state file ---------------------------------------------------------------------

    def _start_dumping(self) -> None:
        if self.state_path is None:
            return
        self._stop_dumping.clear()
        self._dumped_head = None
        self._dumper = threading.Thread(
            target=self._dump_loop, name=f"anvil-state-{self.port}", daemon=True
        )
        self._dumper.start()

    def _dump_loop(self) -> None:
        while not self._stop_dumping.wait(self.state_interval):
            try:
                self.dump_state()
            except (httpx.HTTPError, OSError, ValueError) as exc:
                if self.process is None or self.process.poll() is not None:
                    return  # the chain is gone: nothing more to save
                log.warning("could not save the chain's state to %s: %s", self.state_path, exc)

    def dump_state(self, *, force: bool = False) -> bool:
        """Writes the chain's state to `state_path` atomically if the head moved since the last
        dump (or `force`); True when it wrote."""
        if self.state_path is None:
            return False
        with self._dump_lock:
            head = self._rpc("eth_getBlockByNumber", "latest", False)["hash"]
            if head == self._dumped_head and not force:
                return False
            state = gzip.decompress(bytes.fromhex(self._rpc("anvil_dumpState")[2:]))
            _write_atomically(self.state_path, state)
            self._dumped_head = head
            self.dumps += 1
            return True

    def _rpc(self, method: str, *params: object) -> Any:
        answer = httpx.post(
            self.rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
            timeout=30,
        ).json()
        if "error" in answer:
            raise ValueError(f"{method}: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        self._stop_dumping.set()
        if self._dumper is not None:
            self._dumper.join(timeout=30)
            self._dumper = None
        if self.process is None or self.process.poll() is not None:
            return
        if self.state_path is not None:
            try:
                self.dump_state()
            except (httpx.HTTPError, OSError, ValueError) as exc:
                log.warning("could not save the chain's state at stop: %s", exc)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def freeze_state(self) -> None:
        """Stops saving the state (the file keeps the last dump): tests use it to make a later
        `kill` lose exactly what was mined since, as a chain that saves rarely would."""
        self._stop_dumping.set()
        if self._dumper is not None:
            self._dumper.join(timeout=30)
            self._dumper = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: no last dump (tests use it)."""
        self._stop_dumping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._dumper is not None:
            self._dumper.join(timeout=30)
            self._dumper = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _has_state(path: Path) -> bool:
    """Whether `path` holds a state to start from; a file that is there but not a complete JSON
    state (torn by a crash of an older Anvil writing it in place) stops the start."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        with path.open("rb") as file:
            json.load(file)
    except ValueError as exc:
        raise AnvilStateUnreadable(
            f"the saved chain state {path} is not a complete state file ({exc}): move it aside "
            "to start a fresh chain (`label-ledger up --fresh` starts everything over)"
        ) from exc
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    """Replaces `path` with `data` so that a crash leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def rescue_orphan_chain(*, pid: int | None, rpc_url: str, state_path: Path) -> bool:
    """Saves and stops the Anvil an `up` killed with SIGKILL left behind; True when there was one.

    The dying `up` could neither save its chain a last time nor stop it: that Anvil still runs,
    holds the usual port and has every block, while the state file may lack the last second. Its
    state is written (atomically) where the next `up` reads it, then it is stopped, so the next
    chain starts with nothing lost, on the port wallets know. Only a process that is an Anvil and
    answers at the recorded URL is touched (its pid may have been reused meanwhile)."""
    if pid is None:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False  # gone already (or not Linux: nothing to rescue)
    if not command or not Path(command[0].decode(errors="replace")).name.startswith("anvil"):
        return False
    orphan = Anvil(port=int(rpc_url.rsplit(":", 1)[1]), state_path=state_path)
    try:
        orphan.dump_state(force=True)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        log.warning("the chain left running at %s could not be saved: %s", rpc_url, exc)
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                break  # a zombie: stopped, awaiting a parent that is gone
            time.sleep(0.05)
        else:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError):
        pass
    return True
