"""Running the real `label-ledger serve` and `label-ledger worker` as subprocesses, as a
deployment runs them (tests/integration/test_processes.py, test_scale_out.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SCRIPT = Path(sys.executable).parent / "label-ledger"


def settings_env(
    *,
    database_url: str,
    rpc_url: str,
    deployment_file: Path,
    publish_dir: Path,
    port: int | None = None,
    **extra: str,
) -> dict[str, str]:
    """The LABEL_LEDGER_* environment of every process of one deployment."""
    env = {
        **os.environ,
        "COLUMNS": "200",
        "LABEL_LEDGER_DATABASE_URL": database_url,
        "LABEL_LEDGER_RPC_URL": rpc_url,
        "LABEL_LEDGER_PUBLIC_RPC_URL": rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(deployment_file),
        "LABEL_LEDGER_PUBLISH_DIR": str(publish_dir),
        **{f"LABEL_LEDGER_{k.upper()}": v for k, v in extra.items()},
    }
    if port is not None:
        env["LABEL_LEDGER_SIWE_DOMAIN"] = f"127.0.0.1:{port}"
        env["LABEL_LEDGER_SIWE_URI"] = f"http://127.0.0.1:{port}"
    return env


@dataclass
class Proc:
    """One `label-ledger` subprocess, its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def start(self) -> Proc:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(SCRIPT), *self.args],
                env=self.env,
                cwd=self.log.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.process.poll() is None, f"{self.name} exited:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.name} never said {text!r}:\n{self.output()}"
            time.sleep(0.1)

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM, then the exit code (SIGKILL if it does not stop in `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise AssertionError(f"{self.name} ignored SIGTERM:\n{self.output()}") from None
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_for_api(url: str, proc: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.process.poll() is None, f"{proc.name} exited:\n{proc.output()}"
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{proc.name} did not answer:\n{proc.output()}"
        time.sleep(0.1)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
