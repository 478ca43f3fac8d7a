"""A local Anvil process from the npm package: started by `up` and by the tests, stopped by them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

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
    ) -> None:
        # A port of our choosing is chosen again when someone takes it before Anvil binds it.
        self._port_chosen_here = port is None
        self.port = port or free_port()
        self.state_path = state_path
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
        if self.state_path is not None:
            # Loaded at start, written every few seconds and at exit: the chain outlives a restart.
            args += ["--state", str(self.state_path), "--state-interval", "5"]
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

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
