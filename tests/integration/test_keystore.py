"""The operator's key never shows: the real `label-ledger serve`, run with a hex key and then
with a keystore, asked for its health, its metrics and errors, and made to fail (a wrong
keystore password, a malformed key, a deploy to the wrong chain). The key's hex, with and
without 0x, in either case, appears in no output, log line, body or file but the keystore's
ciphertext."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger.chain.client import ChainClient, account_from_key
from ledger.chain.deploy import deploy_all
from ledger.chain.devnode import DEV_KEYS, Anvil, free_port
from ledger.chain.keys import KeystorePasswordWrong, load_keystore
from ledger.kit.config import Settings
from tests.conftest import make_schema

pytestmark = pytest.mark.chain

SCRIPT = Path(sys.executable).parent / "label-ledger"


def secret_forms(key_hex: str) -> list[str]:
    """Every way the key could be written out."""
    bare = key_hex.removeprefix("0x").lower()
    return [bare, bare.upper(), "0x" + bare, bare[:32], bare[32:]]


def assert_hidden(key_hex: str, *texts: str) -> None:
    for text in texts:
        for form in secret_forms(key_hex):
            assert form not in text, f"the key shows: ...{text[max(0, text.find(form) - 80) :]}"


def light_keystore(path: Path, key: str, password: str) -> Path:
    """A keystore of `key` in the same format as `keystore import` writes, but with a light scrypt
    (n = 2**12 instead of eth-account's 2**18: 1.0 s of CPU on each open, 2.4 s of wall time on
    a busy test machine): the product opens any valid keystore with the parameters the file
    names, and the files the product writes itself are opened at full cost in the tests of
    import and new."""
    path.write_text(json.dumps(Account.encrypt(key, password, kdf="scrypt", iterations=2**12)))
    path.chmod(0o600)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_LEDGER_")}
    return {**kept, "COLUMNS": "200", **extra}


def run(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=clean_env(**extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def node() -> Iterator[Anvil]:
    with Anvil() as anvil:
        yield anvil


@pytest.fixture
def deployed(node: Anvil, tmp_path: Path) -> dict[str, str]:
    """A ledger on the test's own Anvil, a database at head, and the settings naming them."""
    deployment = deploy_all(
        ChainClient(node.rpc_url), account_from_key(DEV_KEYS[0]), with_dev_token=True
    )
    deployment_file = tmp_path / "deployment.json"
    deployment.save(deployment_file)
    database_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    make_schema(database_url)
    return {
        "LABEL_LEDGER_DATABASE_URL": database_url,
        "LABEL_LEDGER_RPC_URL": node.rpc_url,
        "LABEL_LEDGER_DEPLOYMENT_FILE": str(deployment_file),
    }


def serve_and_probe(env: dict[str, str], cwd: Path) -> tuple[str, list[str]]:
    """Runs `label-ledger -v serve`, reads health, metrics, mirror status and three errors,
    stops it; returns its output and every body it answered."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(SCRIPT), "-v", "serve", "--port", str(port)],
            env=clean_env(**env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    bodies: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                health = httpx.get(f"{base}/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 30s"
                time.sleep(0.1)
        assert health.status_code == 200, health.text
        bodies.append(health.text)
        metrics = httpx.get(f"{base}/metrics", timeout=10)
        assert metrics.status_code == 200
        bodies.append(metrics.text)
        bodies.append(httpx.get(f"{base}/v1/mirror/status", timeout=10).text)
        # errors: an operator endpoint without a session, a malformed body, an unknown thing
        refused = httpx.post(f"{base}/v1/epochs", timeout=10)
        assert refused.status_code == 401, refused.text
        malformed = httpx.post(
            f"{base}/v1/auth/verify",
            content=b"{not json",
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert 400 <= malformed.status_code < 500
        missing = httpx.get(f"{base}/v1/datasets/999999999", timeout=10)
        assert 400 <= missing.status_code < 500
        bodies += [refused.text, malformed.text, missing.text]
    finally:
        server.terminate()
        server.wait(timeout=20)
    return log.read_text(), bodies


def test_serve_with_a_hex_key_never_shows_it(deployed: dict[str, str], tmp_path: Path) -> None:
    key = "0x" + bytes(Account.create().key).hex()
    output, bodies = serve_and_probe({**deployed, "LABEL_LEDGER_OPERATOR_KEY": key}, tmp_path)
    assert "api" in output
    assert_hidden(key, output, *bodies)
    # the settings' own repr and str hide it too
    settings = Settings(operator_key=key)
    assert_hidden(key, repr(settings), str(settings), settings.model_dump_json())


def test_serve_with_a_keystore_and_its_errors_never_show_the_key(
    deployed: dict[str, str], tmp_path: Path
) -> None:
    account = Account.create()
    key = "0x" + bytes(account.key).hex()
    password = "correct horse battery staple"
    password_file = tmp_path / "password"
    password_file.write_text(password + "\n")

    made = run(
        "keystore", "import", "--out", str(tmp_path / "operator.json"),
        "--password-file", str(password_file), cwd=tmp_path, LABEL_LEDGER_IMPORT_KEY=key,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    keystore = tmp_path / "operator.json"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    assert account.address in made.stdout
    assert_hidden(key, made.stdout, made.stderr, keystore.read_text())
    assert load_keystore(keystore, password).address == account.address

    # the serves below open a keystore of the same key, lightly encrypted (light_keystore)
    keystore = light_keystore(tmp_path / "operator-light.json", key, password)
    with_keystore = {
        **deployed,
        "LABEL_LEDGER_OPERATOR_KEYSTORE": str(keystore),
        "LABEL_LEDGER_OPERATOR_KEYSTORE_PASSWORD_FILE": str(password_file),
    }
    output, bodies = serve_and_probe(with_keystore, tmp_path)
    assert_hidden(key, output, *bodies)
    assert password not in output

    # a wrong password: a clear refusal naming the file, without the key or either password
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    refused = run(
        "-v", "serve", "--port", str(free_port()), cwd=tmp_path,
        **{**with_keystore, "LABEL_LEDGER_OPERATOR_KEYSTORE_PASSWORD_FILE": str(wrong)},
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "keystore_password_wrong" in refused.stdout
    assert "the password does not open the keystore" in refused.stdout
    assert_hidden(key, refused.stdout, refused.stderr)
    assert "not the password" not in refused.stdout + refused.stderr
    assert password not in refused.stdout + refused.stderr

    # no password file and no terminal: says how to give one
    unattended = run(
        "serve", "--port", str(free_port()), cwd=tmp_path,
        **{k: v for k, v in with_keystore.items() if "PASSWORD" not in k},
    )  # fmt: skip
    assert unattended.returncode == 1
    assert "LABEL_LEDGER_OPERATOR_KEYSTORE_PASSWORD_FILE" in unattended.stdout

    # a keystore and a hex key at once: refused, which one is not guessed
    both = run(
        "serve", "--port", str(free_port()), cwd=tmp_path,
        **with_keystore, LABEL_LEDGER_OPERATOR_KEY=key,
    )  # fmt: skip
    assert both.returncode == 1
    assert "unset one" in both.stdout
    assert_hidden(key, both.stdout, both.stderr)


def test_a_malformed_key_is_refused_without_being_quoted(
    deployed: dict[str, str], tmp_path: Path
) -> None:
    key = bytes(Account.create().key).hex()
    malformed = key[:-1] + "z"  # one digit off
    result = run(
        "serve", "--port", str(free_port()), cwd=tmp_path,
        **deployed, LABEL_LEDGER_OPERATOR_KEY=malformed,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bad_private_key" in result.stdout
    assert malformed not in result.stdout + result.stderr
    assert_hidden(key, result.stdout, result.stderr)


def test_deploy_errors_never_show_the_deployer_key(node: Anvil, tmp_path: Path) -> None:
    key = "0x" + bytes(Account.create().key).hex()
    # the wrong chain (the Anvil is 31337, not Base)
    wrong_chain = run(
        "-v", "deploy", "--network", "base", "--rpc", node.rpc_url, cwd=tmp_path,
        LABEL_LEDGER_DEPLOYER_KEY=key,
    )  # fmt: skip
    assert wrong_chain.returncode == 1
    assert "wrong_chain" in wrong_chain.stdout
    assert_hidden(key, wrong_chain.stdout, wrong_chain.stderr)
    # an unfunded deployer on the right chain: the node refuses, the key stays hidden
    unfunded = run(
        "-v", "deploy", "--network", "dev", "--rpc", node.rpc_url, "--dev-token", cwd=tmp_path,
        LABEL_LEDGER_DEPLOYER_KEY=key,
    )  # fmt: skip
    assert unfunded.returncode != 0
    assert_hidden(key, unfunded.stdout, unfunded.stderr)
    # a keystore with the wrong password
    keystore = light_keystore(tmp_path / "deployer.json", key, "right")
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong\n")
    locked = run(
        "deploy", "--network", "dev", "--rpc", node.rpc_url, "--keystore", str(keystore),
        "--password-file", str(wrong), cwd=tmp_path,
    )  # fmt: skip
    assert locked.returncode == 1
    assert "keystore_password_wrong" in locked.stdout
    assert_hidden(key, locked.stdout, locked.stderr)
    with pytest.raises(KeystorePasswordWrong):
        load_keystore(keystore, "wrong")


def test_keystore_new_writes_a_fresh_key_readable_only_by_its_owner(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")
    out = tmp_path / "keys" / "operator.json"
    made = run(
        "keystore", "new", "--out", str(out), "--password-file", str(password_file), cwd=tmp_path
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    account = load_keystore(out, "s3cret")
    assert account.address in made.stdout
    assert_hidden("0x" + bytes(account.key).hex(), made.stdout, made.stderr)
    again = run(
        "keystore", "new", "--out", str(out), "--password-file", str(password_file), cwd=tmp_path
    )
    assert again.returncode == 1
    assert "exists" in again.stdout
    assert load_keystore(out, "s3cret").address == account.address  # not overwritten


def read_until(terminal: int, marker: bytes | None, seen: bytes) -> bytes:
    """What the terminal shows until `marker` (None: until it closes), within 60 s."""
    deadline = time.monotonic() + 60
    while marker is None or marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen
        ready, _, _ = select.select([terminal], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the child exited and closed the terminal
            chunk = b""
        if not chunk:
            assert marker is None, seen
            return seen
        seen += chunk
    return seen


def test_keystore_new_asks_for_the_password_twice_at_a_terminal(tmp_path: Path) -> None:
    """With no password file and a terminal, the password is typed (not echoed) twice."""
    out = tmp_path / "typed.json"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command on a terminal of its own
        os.chdir(tmp_path)
        command = [str(SCRIPT), "keystore", "new", "--out", str(out)]
        os.execve(command[0], command, clean_env())  # noqa: S606 (our own script, no shell)
    try:
        seen = read_until(terminal, b"password for", b"")
        os.write(terminal, b"typed secret\n")
        seen = read_until(terminal, b"again", seen)
        os.write(terminal, b"typed secret\n")
        seen = read_until(terminal, None, seen)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"typed secret" not in seen  # never echoed
    assert load_keystore(out, "typed secret").address.encode() in seen
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
