"""Sign-In with Ethereum (EIP-4361) messages: build, parse strictly, verify the signature.

We parse the exact line layout the EIP defines instead of guessing; anything else is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_checksum_address
from eth_utils.exceptions import ValidationError

from ledger.kit.errors import Unauthorized

_HEADER = " wants you to sign in with your Ethereum account:"
_FIELD_ORDER = (
    ("URI", "uri"),
    ("Version", "version"),
    ("Chain ID", "chain_id"),
    ("Nonce", "nonce"),
    ("Issued At", "issued_at"),
    ("Expiration Time", "expiration_time"),
    ("Not Before", "not_before"),
    ("Request ID", "request_id"),
)
_REQUIRED = {"uri", "version", "chain_id", "nonce", "issued_at"}
_ASCII_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() would take "²" and Arabic-Indic digits
_NONCE = re.compile(r"^[A-Za-z0-9]{8,64}$")


class InvalidSignIn(Unauthorized):
    code = "invalid_sign_in"


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: dt.datetime
    expiration_time: dt.datetime | None = None
    not_before: dt.datetime | None = None
    statement: str | None = None
    request_id: str | None = None
    version: str = "1"

    def text(self) -> str:
        lines = [f"{self.domain}{_HEADER}", self.address, ""]
        if self.statement:
            lines += [self.statement, ""]
        values = {
            "uri": self.uri,
            "version": self.version,
            "chain_id": str(self.chain_id),
            "nonce": self.nonce,
            "issued_at": _iso(self.issued_at),
            "expiration_time": _iso(self.expiration_time) if self.expiration_time else None,
            "not_before": _iso(self.not_before) if self.not_before else None,
            "request_id": self.request_id,
        }
        lines += [f"{label}: {values[key]}" for label, key in _FIELD_ORDER if values[key]]
        return "\n".join(lines)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: str, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidSignIn(f"{field} is not an RFC 3339 timestamp") from exc
    if parsed.tzinfo is None:
        raise InvalidSignIn(f"{field} must carry a timezone")
    return parsed


def parse(text: str) -> SiweMessage:
    lines = text.split("\n")
    if len(lines) < 8 or not lines[0].endswith(_HEADER):
        raise InvalidSignIn("not a Sign-In with Ethereum message (EIP-4361)")
    domain = lines[0][: -len(_HEADER)]
    address = lines[1]
    if not is_checksum_address(address):
        raise InvalidSignIn("the message's address must be an EIP-55 checksummed address")
    if lines[2] != "":
        raise InvalidSignIn("expected an empty line after the address")
    rest = lines[3:]
    statement = None
    if rest and rest[0] != "" and not rest[0].startswith("URI: "):
        statement = rest[0]
        rest = rest[1:]
    if rest and rest[0] == "":
        rest = rest[1:]
    fields: dict[str, str] = {}
    position = 0
    for line in rest:
        if line.startswith("Resources:") or line.startswith("- "):
            continue  # resources are allowed but carry no meaning for us
        label, sep, value = line.partition(": ")
        keys = [key for lbl, key in _FIELD_ORDER[position:] if lbl == label]
        if not sep or not keys:
            raise InvalidSignIn(f"unexpected or out-of-order line in message: {line!r}")
        key = keys[0]
        fields[key] = value
        position = [k for _, k in _FIELD_ORDER].index(key) + 1
    missing = _REQUIRED - fields.keys()
    if missing:
        raise InvalidSignIn(f"message lacks {', '.join(sorted(missing))}")
    if fields["version"] != "1":
        raise InvalidSignIn("only EIP-4361 version 1 is supported")
    if not _ASCII_DIGITS.fullmatch(fields["chain_id"]):
        raise InvalidSignIn("Chain ID must be a number")
    if not _NONCE.match(fields["nonce"]):
        raise InvalidSignIn("nonce must be 8 to 64 letters or digits")
    return SiweMessage(
        domain=domain,
        address=address,
        statement=statement,
        uri=fields["uri"],
        chain_id=int(fields["chain_id"]),
        nonce=fields["nonce"],
        issued_at=_parse_time(fields["issued_at"], "Issued At"),
        expiration_time=_parse_time(fields["expiration_time"], "Expiration Time")
        if "expiration_time" in fields
        else None,
        not_before=_parse_time(fields["not_before"], "Not Before")
        if "not_before" in fields
        else None,
        request_id=fields.get("request_id"),
    )


def recover_signer(text: str, signature: str) -> str:
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except (ValueError, TypeError, IndexError, ValidationError, BadSignature) as exc:
        raise InvalidSignIn("the signature is malformed") from exc
