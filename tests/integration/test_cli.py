"""The `label-ledger` console script, run as a user runs it, against a real Anvil."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from ledger.chain.client import ChainClient, Deployment, account_from_key
from ledger.chain.deploy import GUARDIAN_ROLE, PAUSER_ROLE, ROOT_PROPOSER_ROLE
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port
from ledger.dataset.models import Dataset, Item
from ledger.dataset.service import item_data
from ledger.kit.db import Database
from ledger.media import pet_kind
from ledger.settlement.publish import publish
from ledger.storage import LocalBlobStore, MasterKey, MediaVault
from tests.conftest import Instance
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
    assert run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0  # the schema first
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
    assert run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0  # the schema first
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
    assert run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0  # the schema first
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
    assert run("db", "upgrade", env=env, cwd=tmp_path).returncode == 0  # the schema first
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


# --- `up` records itself; `demo` and `audit` drive that instance and no other ---


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any LABEL_LEDGER_ setting: the commands find their instance
    themselves."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")}
    return {**kept, "COLUMNS": "200", **extra}


def run_clean(
    *args: str, cwd: Path, timeout: float = 120, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=clean_env(**extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def first_line(result: subprocess.CompletedProcess[str]) -> str:
    return next(line for line in result.stdout.splitlines() if line.strip())


def write_record(state_dir: Path, *, pid: int, api_url: str, rpc_url: str) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "api_url": api_url,
        "rpc_url": rpc_url,
        "pid": pid,
        "chain_pid": None,
        "deployment_file": str(state_dir / "deployment.json"),
        "publish_dir": str(state_dir / "published"),
        "started_at": "2026-12-06T00:00:00+00:00",
    }
    path = state_dir / "up.json"
    path.write_text(json.dumps(record))
    return path


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def test_up_records_itself_and_demo_and_audit_use_that_instance(
    database_url: str, tmp_path: Path
) -> None:
    """`up` (on a free port, on the test's database) writes .label-ledger/up.json and prints the
    app's URL first; `demo` and `audit`, run beside it with no flag, say they use it and do; the
    demo's items are pictures that this instance serves; a second `up` of the directory is
    refused; once `up` stops, the record is gone and the demo refuses to run."""
    port = free_port()
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [str(SCRIPT), "up", "--port", str(port), "--settle-every", "0"],
            env=clean_env(LABEL_LEDGER_DATABASE_URL=database_url),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    record_file = tmp_path / ".label-ledger" / "up.json"
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not (record_file.exists() and answers(f"{url}/v1/health")):
            assert up.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "up did not answer within 90s:\n" + log.read_text()
            time.sleep(0.2)
        record = json.loads(record_file.read_text())
        assert (record["api_url"], record["pid"]) == (url, up.pid)
        assert record["rpc_url"] == httpx.get(f"{url}/v1/health").json()["rpc_url"]
        printed = [line for line in log.read_text().splitlines() if line.strip()]
        assert printed[0].split() == ["app", f"{url}/"], printed
        hints = " ".join(printed)
        # a command that works from here: the venv's script, by the name PATH finds it under
        on_path = shutil.which("label-ledger", path=clean_env()["PATH"])
        command = "label-ledger" if on_path and Path(on_path) == SCRIPT else str(SCRIPT)
        assert f"try it: {command} demo " in hints, hints

        second = run_clean("up", "--port", str(free_port()), cwd=tmp_path)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"already runs from .label-ledger at {url} (pid {up.pid})" in second.stdout

        # without the showcase (a funded dataset of each of the 18 kinds, opened one by one):
        # test_loop_e2e proves it on both databases; this test is about `up` and its record
        demo = run_clean(
            "demo", "--items", "40", "--annotators", "3", "--no-showcase", cwd=tmp_path, timeout=300
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert first_line(demo) == (
            f"using the label-ledger up at {url} (from .label-ledger/up.json)"
        )
        assert "every balance the API shows equals the chain" in demo.stdout
        tail = [line.split()[0] for line in demo.stdout.splitlines()[-3:]]
        assert tail == [f"{url}/datasets", f"{url}/me/labels", f"{url}/epochs"], demo.stdout

        # the demo's items are pictures served by this instance, showing what they are said to;
        # their data is sealed under the master key `up` wrote in its state directory
        key_file = tmp_path / ".label-ledger" / "master.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        vault = MediaVault(LocalBlobStore(tmp_path / "blobs"), MasterKey.from_file(key_file))
        db = Database(database_url)
        try:
            with db.unit_of_work() as session:
                items = session.scalars(select(Item)).all()  # the loop's two datasets
                data = {
                    item.id: item_data(
                        vault,
                        session.get_one(Dataset, item.dataset_id),
                        item.external_id,
                        item.sealed_data,
                    )
                    for item in items
                }
                urls = [data[item.id]["url"] for item in items]
                gold = {data[item.id]["url"]: item.gold_label for item in items if item.gold}
        finally:
            db.engine.dispose()
        assert len(urls) == 40 + 10
        assert all(u.startswith("/media/pets/") for u in urls), urls[:3]
        assert gold
        for picture_url, answer in gold.items():  # the buyer's answer is what the picture shows
            assert answer == pet_kind(int(picture_url.rsplit("/", 1)[1].removesuffix(".png")))
        picture = httpx.get(url + urls[0])  # as the app's page, on the same origin, loads it
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/png"
        assert picture.content.startswith(b"\x89PNG\r\n\x1a\n")

        audited = run_clean("audit", cwd=tmp_path, timeout=300)
        assert audited.returncode == 0, audited.stdout + audited.stderr
        assert first_line(audited) == (
            f"using the label-ledger up at {url} (from .label-ledger/up.json)"
        )
    finally:
        up.terminate()
        up.wait(timeout=30)
    assert up.returncode == 0, log.read_text()
    assert not record_file.exists()
    assert "stopped: API, jobs and Anvil" in log.read_text()
    with pytest.raises(httpx.TransportError):  # its Anvil stopped with it
        httpx.post(record["rpc_url"], json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})

    stopped = run_clean("demo", cwd=tmp_path)
    assert stopped.returncode == 2, stopped.stdout + stopped.stderr
    said = " ".join(stopped.stdout.split())
    assert "no label-ledger up is running from .label-ledger" in said
    assert ".label-ledger/up.json does not exist" in said
    assert "./scripts/up" in said
    assert "pass --api URL" in said


def test_demo_and_audit_refuse_a_record_whose_up_is_gone(tmp_path: Path) -> None:
    state = tmp_path / "elsewhere"
    pid = dead_pid()
    write_record(state, pid=pid, api_url="http://127.0.0.1:9", rpc_url="http://127.0.0.1:9")
    for command, instead in (("demo", "pass --api URL"), ("audit", "pass --rpc URL")):
        result = run_clean(command, "--state-dir", str(state), cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        said = " ".join(result.stdout.split())
        assert f"names process {pid}, which is no longer running" in said
        assert "Start one with ./scripts/up" in said
        assert instead in said


def test_demo_refuses_a_record_whose_up_does_not_answer(tmp_path: Path) -> None:
    silent = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    write_record(tmp_path / ".label-ledger", pid=os.getpid(), api_url=silent, rpc_url=silent)
    result = run_clean("demo", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert f"does not answer at {silent}/v1/health" in said
    assert "pass --api URL" in said


def test_demo_and_audit_never_drive_another_instance_on_the_recorded_port(
    instance: Instance, tmp_path: Path
) -> None:
    """The record's port answers, but for another chain: both refuse. When the record matches
    what answers, audit uses it: its chain, its deployment file and its publication."""
    state = tmp_path / "state"
    rpc_url = instance.runtime.settings.rpc_url
    write_record(state, pid=os.getpid(), api_url=instance.url, rpc_url="http://127.0.0.1:1")
    for command in ("demo", "audit"):
        result = run_clean(command, "--state-dir", str(state), cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        said = " ".join(result.stdout.split())
        assert f"{instance.url} answers, but on chain {rpc_url}" in said
        assert "another service holds its port" in said

    record = write_record(state, pid=os.getpid(), api_url=instance.url, rpc_url=rpc_url)
    shutil.copy(instance.runtime.settings.deployment_file, state / "deployment.json")
    publish(instance.runtime.db, instance.runtime.deployment, state / "published")
    audited = run_clean("audit", "--json", "--state-dir", str(state), cwd=tmp_path)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert audited.stderr.splitlines()[0] == (
        f"using the label-ledger up at {instance.url} (from {record})"
    )
    assert json.loads(audited.stdout)["ok"] is True


@pytest.mark.parametrize("command", ["up", "serve"])
def test_a_port_or_worker_count_out_of_range_is_a_usage_error_that_starts_nothing(
    command: str, tmp_path: Path
) -> None:
    """`--port 0` would have the system pick a port that nothing prints; a count of 0 API
    processes serves nothing: each is refused before anything starts (exit 2, no state)."""
    cases = [("--port", "0", "must be at least 1"), ("--port", "65536", "a port is at most 65535")]
    if command == "serve":
        cases.append(("--workers", "0", "must be at least 1"))
    for flag, value, said in cases:
        result = run(command, flag, value, env={}, cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"argument {flag}: {said}" in result.stderr
        assert not (tmp_path / ".label-ledger").exists()
