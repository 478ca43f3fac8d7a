"""`up` killed with SIGKILL, then started again: its chain comes back whole, on the same port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.devnode import DEV_KEYS, free_port

pytestmark = pytest.mark.chain

SCRIPT = Path(sys.executable).parent / "label-ledger"


def _env() -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")}
    return {**kept, "COLUMNS": "200"}


def _start_up(tmp_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SCRIPT), "up", "--port", str(port), "--settle-every", "0"],
            env=_env(),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_healthy(up: subprocess.Popen[bytes], url: str, record: Path, log: Path) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while True:
        assert up.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "up did not answer within 120s:\n" + log.read_text()
        try:
            if record.exists() and httpx.get(f"{url}/v1/health", timeout=5).status_code == 200:
                loaded: dict[str, str] = json.loads(record.read_text())
                if loaded.get("pid") == up.pid:
                    return loaded
        except httpx.TransportError:
            pass
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return not stat.split(") ", 1)[1].startswith("Z")


def test_a_killed_up_leaves_no_chain_behind_and_the_next_up_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of `up` kills neither its Anvil nor its blocks: the next `up` saves that Anvil's
    state, stops it, and starts the same chain, with the transaction mined just before the kill,
    on the same port, reusing the same contracts."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    record_file = tmp_path / ".label-ledger" / "up.json"
    up = _start_up(tmp_path, port, log)
    try:
        first = _wait_healthy(up, url, record_file, log)
        chain_pid = int(first["chain_pid"])
        client = ChainClient(first["rpc_url"])
        recipient = Account.create().address
        sender = account_from_key(DEV_KEYS[-1])
        tx = {
            "from": sender.address,
            "to": recipient,
            "value": 12_345,
            "nonce": client.w3.eth.get_transaction_count(sender.address),
            "chainId": client.chain_id,
            "gas": 21_000,
            "maxFeePerGas": 10**11,
            "maxPriorityFeePerGas": 10**9,
        }
        client.wait(client.broadcast(bytes(sender.sign_transaction(tx).raw_transaction)))
        os.kill(up.pid, signal.SIGKILL)  # no time to save or stop anything
        up.wait(timeout=30)
        assert _alive(chain_pid)  # its Anvil runs on, orphaned, with every block

        up = _start_up(tmp_path, port, log)
        second = _wait_healthy(up, url, record_file, log)
        printed = log.read_text()
        assert f"(pid {chain_pid}) was saved and stopped" in printed, printed
        assert "reusing the contracts" in printed, printed
        assert not _alive(chain_pid)
        assert second["rpc_url"] == first["rpc_url"]  # the port wallets know
        assert int(second["chain_pid"]) != chain_pid
        assert ChainClient(second["rpc_url"]).w3.eth.get_balance(recipient) == 12_345
    finally:
        up.terminate()
        up.wait(timeout=30)
    assert up.returncode == 0, log.read_text()
