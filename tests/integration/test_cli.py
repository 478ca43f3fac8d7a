"""The `label-ledger` console script, run as a user runs it, against a real Anvil."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.deploy import GUARDIAN_ROLE, PAUSER_ROLE, ROOT_PROPOSER_ROLE
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port
from tests.support import Chain

pytestmark = pytest.mark.chain

SCRIPT = Path(sys.executable).parent / "label-ledger"


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**os.environ, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def node() -> Iterator[Anvil]:
    # A chain of its own: deploying moves the deployer's nonce, which other tests' snapshots keep.
    with Anvil() as anvil:
        yield anvil


def test_deploy_writes_a_deployment_file_whose_contracts_are_wired(
    node: Anvil, tmp_path: Path
) -> None:
    out = tmp_path / "deployment.json"
    result = run(
        "deploy",
        "--rpc",
        node.rpc_url,
        "--dev-token",
        "--timelock",
        "3600",
        "--out",
        str(out),
        env={"LABEL_LEDGER_DEPLOYER_KEY": DEV_KEYS[1], "LABEL_LEDGER_FEE_BPS": "250"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    deployment = Deployment.load(out)
    client = ChainClient(node.rpc_url)
    assert deployment.chain_id == client.chain_id == 31337
    assert deployment.deployment_block >= 1
    ledger = client.contract("LabelLedger", deployment.ledger)
    role = ledger.functions.hasRole
    assert role(ROOT_PROPOSER_ROLE, deployment.operator).call()
    assert role(GUARDIAN_ROLE, deployment.guardian).call()
    assert role(PAUSER_ROLE, deployment.deployer).call()
    assert role(b"\x00" * 32, deployment.deployer).call()  # DEFAULT_ADMIN_ROLE
    assert deployment.operator == deployment.guardian == deployment.deployer
    assert (deployment.timelock, ledger.functions.TIMELOCK().call()) == (3600, 3600)
    assert (deployment.fee_bps, ledger.functions.feeBps().call()) == (250, 250)
    [token] = deployment.payment_tokens
    assert token.index == 1 == ledger.functions.tokenIndexOf(token.address).call()
    assert ledger.functions.decimals().call() == 6
    assert json.loads(out.read_text())["ledger"] == deployment.ledger


def test_deploy_without_a_key_says_how_to_give_one(node: Anvil, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABEL_LEDGER_DEPLOYER_KEY"}
    result = subprocess.run(
        [str(SCRIPT), "deploy", "--rpc", node.rpc_url],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LABEL_LEDGER_DEPLOYER_KEY" in result.stdout
    assert not (tmp_path / ".label-ledger").exists()


def test_deploy_to_an_unreachable_node_fails_with_advice(tmp_path: Path) -> None:
    result = run(
        "deploy",
        "--rpc",
        "http://127.0.0.1:9",
        env={"LABEL_LEDGER_DEPLOYER_KEY": DEV_KEYS[1]},
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "chain_unavailable" in result.stdout
    assert "is the node running" in result.stdout


def test_settle_and_push_with_nothing_verified_send_nothing(node: Anvil, tmp_path: Path) -> None:
    out = tmp_path / "deployment.json"
    deployed = run(
        "deploy",
        "--rpc",
        node.rpc_url,
        "--dev-token",
        "--out",
        str(out),
        env={"LABEL_LEDGER_DEPLOYER_KEY": DEV_KEYS[0]},
        cwd=tmp_path,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    env = {
        "LABEL_LEDGER_RPC_URL": node.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(out),
        "LABEL_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "LABEL_LEDGER_OPERATOR_KEY": DEV_KEYS[0],
    }
    result = run("settle", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to settle" in result.stdout
    deployment = Deployment.load(out)
    ledger = ChainClient(node.rpc_url).contract("LabelLedger", deployment.ledger)
    assert ledger.functions.acceptedEpoch().call() == 0
    assert ledger.functions.pendingEpoch().call()[2] == 0
    pushed = run("push", env=env, cwd=tmp_path)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "nothing to push: no epoch has been accepted on chain yet" in pushed.stdout

    # settle wrote the (empty) publication where the settings say; publish copies it anywhere,
    # and audit reads either, by default the settings' directory
    assert (tmp_path / ".label-ledger" / "published" / "index.json").is_file()
    published = run("publish", "--out", str(tmp_path / "copy"), env=env, cwd=tmp_path)
    assert published.returncode == 0, published.stdout + published.stderr
    index = json.loads((tmp_path / "copy" / "index.json").read_text())
    assert (index["epochs"], index["ledger"]) == ([], deployment.ledger)
    for extra in ((), ("--epochs", str(tmp_path / "copy"))):
        audited = run("audit", "--json", *extra, env=env, cwd=tmp_path)
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert json.loads(audited.stdout)["ok"] is True
    (tmp_path / "a-file").write_text("not a directory")
    refused = run("publish", "--out", str(tmp_path / "a-file"), env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "pass --out with a directory" in " ".join(refused.stdout.split())
    assert (tmp_path / "a-file").read_text() == "not a directory"
    missing = run("audit", "--epochs", str(tmp_path / "nowhere"), env=env, cwd=tmp_path)
    assert missing.returncode == 2, missing.stdout + missing.stderr


def test_settle_without_an_operator_key_refuses(tmp_path: Path, node: Anvil) -> None:
    out = tmp_path / "deployment.json"
    run(
        "deploy",
        "--rpc",
        node.rpc_url,
        "--out",
        str(out),
        env={"LABEL_LEDGER_DEPLOYER_KEY": DEV_KEYS[0]},
        cwd=tmp_path,
    )
    env = {k: v for k, v in os.environ.items() if k != "LABEL_LEDGER_OPERATOR_KEY"}
    env |= {
        "LABEL_LEDGER_RPC_URL": node.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(out),
        "LABEL_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    }
    result = subprocess.run(
        [str(SCRIPT), "settle"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LABEL_LEDGER_OPERATOR_KEY" in result.stdout


def test_mirror_once_reconcile_and_rebuild(node: Anvil, tmp_path: Path) -> None:
    """`label-ledger mirror --once` catches up; `--reconcile` reports agreement (exit 0), or the
    drifting row and exit 2 with `--no-repair`; `--rebuild` re-reads everything."""
    out = tmp_path / "deployment.json"
    deployed = run(
        "deploy", "--rpc", node.rpc_url, "--dev-token", "--out", str(out),
        env={"LABEL_LEDGER_DEPLOYER_KEY": DEV_KEYS[0]}, cwd=tmp_path,
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    deployment = Deployment.load(out)
    client = ChainClient(node.rpc_url)
    dusd = client.contract("DevStablecoin", deployment.payment_tokens[0].address)
    client.transact(dusd.functions.mint(deployment.deployer, 1_000), account_from_key(DEV_KEYS[0]))
    database = tmp_path / "ledger.sqlite"
    env = {
        "LABEL_LEDGER_RPC_URL": node.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(out),
        "LABEL_LEDGER_DATABASE_URL": f"sqlite:///{database}",
    }
    once = run("mirror", "--once", env=env, cwd=tmp_path)
    assert once.returncode == 0, once.stdout + once.stderr
    assert "logs applied" in once.stdout

    agreed = run("mirror", "--reconcile", env=env, cwd=tmp_path)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert "values agree with the chain" in agreed.stdout

    with sqlite3.connect(database) as connection:  # a mirrored supply nobody minted
        changed = connection.execute(
            "UPDATE token_supplies SET total_supply = ? WHERE token = ?",
            ("1001".zfill(78), dusd.address),
        )
        assert changed.rowcount == 1
    drifted = run("mirror", "--reconcile", "--no-repair", env=env, cwd=tmp_path)
    assert drifted.returncode == 2, drifted.stdout + drifted.stderr
    assert "totalSupply" in drifted.stdout
    assert "1 of" in drifted.stdout

    rebuilt = run("mirror", "--rebuild", "--reconcile", env=env, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "re-reading from the deployment block" in rebuilt.stdout


def test_serve_answers_on_a_deployed_chain_and_refuses_a_taken_port(
    chain: Chain, tmp_path: Path
) -> None:
    """`label-ledger serve` runs the API and its jobs from the settings alone (no Anvil, no
    deployment of its own); a second one on the same port exits 2 and says why."""
    deployment_file = tmp_path / "deployment.json"
    chain.deployment.save(deployment_file)
    port = free_port()
    env = {
        **os.environ,
        "LABEL_LEDGER_RPC_URL": chain.client.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(deployment_file),
        "LABEL_LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(SCRIPT), "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, log.read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 20s"
                time.sleep(0.05)
        assert health.status_code == 200, health.text
        assert health.json()["contracts"]["ledger"] == chain.deployment.ledger
        assert health.json()["chain_id"] == 31337

        taken = run("serve", "--port", str(port), env=env, cwd=tmp_path)
        assert taken.returncode == 2, taken.stdout + taken.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stdout
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert server.returncode == 0, log.read_text()
    assert not (tmp_path / ".label-ledger").exists()  # it started no chain, deployed nothing
