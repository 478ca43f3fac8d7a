"""What a running `label-ledger up` serves, recorded in `<state dir>/up.json` while it runs, so
that the commands run beside it (`demo`, `audit`) drive that instance and never another one
that happens to answer on a default port."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from ledger.kit.errors import LedgerError

UP_FILE = "up.json"


class NoRunningUp(LedgerError):
    code = "no_running_up"


@dataclass(frozen=True)
class UpRecord:
    api_url: str  # the API and the web app, e.g. http://127.0.0.1:8001
    rpc_url: str  # the chain `up` started
    pid: int  # the `up` process
    chain_pid: int | None  # its Anvil
    deployment_file: str  # absolute paths: the record is read from any directory
    publish_dir: str
    started_at: str

    def write(self, path: Path) -> None:
        """Writes the record whole or not at all (a reader never sees half of it)."""
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(asdict(self), indent=2) + "\n")
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> UpRecord:
        fields = json.loads(path.read_text())
        return cls(**{name: fields[name] for name in cls.__dataclass_fields__})


def record_path(state_dir: Path) -> Path:
    return state_dir / UP_FILE


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def remove_record(state_dir: Path, *, pid: int) -> None:
    """Removes the record if it is `pid`'s (a later `up` of the same directory keeps its own)."""
    path = record_path(state_dir)
    try:
        if UpRecord.read(path).pid == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        return


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def running_up(state_dir: Path, *, otherwise: str) -> UpRecord:
    """The `up` running from `state_dir`, checked alive and answering; else `NoRunningUp`, whose
    message says why and what to do (`otherwise`: the flag that names an instance instead)."""
    path = record_path(state_dir)

    def refuse(why: str) -> NoRunningUp:
        return NoRunningUp(
            f"no label-ledger up is running from {state_dir}: {why}. Start one with "
            f"./scripts/up (from the repository root), or {otherwise}"
        )

    if not path.exists():
        raise refuse(f"{path} does not exist")
    try:
        record = UpRecord.read(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise refuse(f"{path} is not an up record ({exc})") from exc
    if not process_alive(record.pid):
        raise refuse(f"{path} names process {record.pid}, which is no longer running")
    try:
        response = httpx.get(f"{record.api_url}/v1/health", timeout=5)
        health = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        health = None
    if not isinstance(health, dict):
        raise refuse(f"the up recorded in {path} does not answer at {record.api_url}/v1/health")
    if health.get("rpc_url") != record.rpc_url:
        raise refuse(
            f"{record.api_url} answers, but on chain {health.get('rpc_url')}, not the up's "
            f"{record.rpc_url}: another service holds its port"
        )
    return record


def cli_command() -> str:
    """How to call `label-ledger` from the current directory: the bare name only when that is the
    one on PATH, else this venv's script (`.venv/bin/label-ledger` from the repository root)."""
    script = Path(sys.executable).parent / "label-ledger"
    on_path = shutil.which("label-ledger")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "label-ledger"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
