"""The operator's (and deployer's) key: from an encrypted keystore file or the environment.

A keystore is eth-account's JSON format (`Account.encrypt`, scrypt): the same file geth,
Foundry's `cast wallet` and MetaMask exports read. Its password comes from a file (the first
line; trailing newline ignored) or, when none is configured and stdin is a terminal, from a
prompt. The hex key from the environment (LABEL_LEDGER_OPERATOR_KEY) is kept as a pydantic
`SecretStr`, so a settings repr, a log line or an error shows '**********'.

No message raised here quotes a key or a password.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.client import account_from_key
from ledger.kit.config import Settings
from ledger.kit.errors import BadRequest


class KeystoreError(BadRequest):
    code = "keystore_unusable"


class KeystorePasswordWrong(KeystoreError):
    code = "keystore_password_wrong"


def read_password_file(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeystoreError(
            f"cannot read the keystore password file {path} ({exc.strerror}): check the path "
            "and that this user may read it"
        ) from None
    return text.splitlines()[0] if text else ""


def load_keystore(path: Path, password: str) -> LocalAccount:
    """The account in the keystore file at `path`, unlocked with `password`."""
    try:
        keystore: dict[str, Any] = json.loads(path.read_text())
    except OSError as exc:
        raise KeystoreError(
            f"cannot read the keystore {path} ({exc.strerror}): check the path "
            "(make one with `label-ledger keystore new --out FILE`)"
        ) from None
    except ValueError:
        raise KeystoreError(f"{path} is not a keystore file (JSON expected)") from None
    try:
        secret = Account.decrypt(keystore, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeystorePasswordWrong(
                f"the password does not open the keystore {path}: check the password file "
                "(its first line is the password) or type it again"
            ) from None
        raise KeystoreError(f"{path} is not a keystore eth-account can read") from None
    return account_from_key("0x" + bytes(secret).hex())


def ask_password(path: Path, *, confirm: bool = False) -> str:
    """A password typed at the terminal; `KeystoreError` when stdin is not one."""
    if not sys.stdin.isatty():
        raise KeystoreError(
            f"the keystore {path} needs its password: set "
            "LABEL_LEDGER_OPERATOR_KEYSTORE_PASSWORD_FILE (or pass --password-file), or run "
            "in a terminal to type it"
        )
    password = getpass.getpass(f"password for {path}: ")
    if confirm and getpass.getpass("again: ") != password:
        raise KeystoreError("the two passwords differ: nothing was written")
    return password


def unlock(path: Path, password_file: Path | None) -> LocalAccount:
    password = read_password_file(password_file) if password_file else ask_password(path)
    return load_keystore(path, password)


def operator_account(settings: Settings) -> LocalAccount | None:
    """The operator's account from the settings: the keystore when one is set, else the hex
    key, else None (the service then runs without operator powers)."""
    if settings.operator_keystore is not None:
        if os.environ.get("LABEL_LEDGER_OPERATOR_KEY"):
            # two keys configured: refuse to guess which one should sign
            raise KeystoreError(
                "both LABEL_LEDGER_OPERATOR_KEYSTORE and LABEL_LEDGER_OPERATOR_KEY are set: "
                "unset one"
            )
        return unlock(settings.operator_keystore, settings.operator_keystore_password_file)
    if settings.operator_key is not None:
        return account_from_key(settings.operator_key)
    return None


def write_keystore(path: Path, account: LocalAccount, password: str) -> Path:
    """Writes `account`'s key encrypted with `password` to a new file at `path`, mode 0600
    (refuses to overwrite)."""
    if not password:
        raise KeystoreError("an empty password protects nothing: choose one")
    keystore = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeystoreError(f"{path} exists: choose another path (nothing was written)") from None
    with os.fdopen(fd, "w") as out:
        json.dump(keystore, out)
        out.write("\n")
    os.chmod(path, 0o600)
    return path


def new_account() -> LocalAccount:
    return cast(LocalAccount, Account.create())


__all__ = [
    "KeystoreError",
    "KeystorePasswordWrong",
    "load_keystore",
    "operator_account",
    "unlock",
    "write_keystore",
]
