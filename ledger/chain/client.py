"""The one chain client: contracts from the deployment file, signing, sending, revert decoding."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import rlp
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import Nonce, TxParams, TxReceipt

from ledger.chain.artifacts import error_selectors, load_artifact
from ledger.kit.errors import ChainStateMismatch, ChainUnavailable, LedgerError
from ledger.kit.types import ChecksumAddress


class ChainTransactionFailed(LedgerError):
    status_code = 422
    code = "chain_transaction_failed"


class StaleTransaction(LedgerError):
    code = "stale_transaction"


class DeploymentMissing(LedgerError, FileNotFoundError):
    status_code = 503
    code = "deployment_missing"


@dataclass(frozen=True)
class PaymentToken:
    """An allowlisted payment token and the index the ledger gave it (indices start at 1).

    `seed_balances`: the token has holders from before the deployment block, so the mirror takes
    an account's opening balance from `balanceOf` when it first sees it. False only for a token
    deployed with the ledger, whose every transfer the mirror reads.
    """

    address: str
    index: int
    seed_balances: bool = True


@dataclass(frozen=True)
class Deployment:
    """Where our contract lives on one chain: written by `deploy`, read by everything else.

    `ledger` is the LabelLedger, which is also the LABEL ERC-20 (6 decimals).
    """

    chain_id: int
    deployer: str
    operator: str
    guardian: str
    deployment_block: int
    ledger: str
    timelock: int
    fee_bps: int = 0
    payment_tokens: list[PaymentToken] = field(default_factory=list)

    @property
    def label_token(self) -> str:
        return self.ledger

    @property
    def payment_token_addresses(self) -> list[str]:
        return [t.address for t in self.payment_tokens]

    def token_index(self, address: str) -> int | None:
        """The allowlist index of a payment token, None if it is not listed."""
        for token in self.payment_tokens:
            if token.address.lower() == address.lower():
                return token.index
        return None

    def token_address(self, index: int) -> str:
        for token in self.payment_tokens:
            if token.index == index:
                return token.address
        raise ChainStateMismatch(f"payment token index {index} is not in the deployment file")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        if not path.exists():
            raise DeploymentMissing(
                f"deployment file {path} not found: run `label-ledger deploy --rpc URL` "
                "or start everything with `label-ledger up`"
            )
        data = json.loads(path.read_text())
        if "ledger" not in data:
            raise DeploymentMissing(
                f"deployment file {path} describes the retired v1 contracts: deploy again "
                "(`label-ledger up --fresh`, or `label-ledger deploy`)"
            )
        data["payment_tokens"] = [PaymentToken(**t) for t in data.get("payment_tokens", [])]
        return cls(**data)


def create_address(sender: str, nonce: int) -> ChecksumAddress:
    """The address CREATE gives the contract `sender` deploys with `nonce`."""
    raw = keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:]
    return ChecksumAddress(to_checksum_address(raw))


def describe_revert(data: str | bytes | None) -> str:
    """Turns revert data into `ErrorName(arg, ...)` using our contracts' ABIs."""
    if data is None:
        return "reverted without a reason"
    raw = HexBytes(data)
    if len(raw) < 4:
        return "reverted without a reason"
    known = error_selectors().get(bytes(raw[:4]))
    if known is None:
        if raw[:4] == bytes.fromhex("08c379a0"):
            return str(abi_decode(["string"], bytes(raw[4:]))[0])
        return f"reverted with unknown error 0x{raw.hex()}"
    name, inputs = known
    values = abi_decode([i["type"] for i in inputs], bytes(raw[4:]))
    shown = ", ".join(f"0x{v.hex()}" if isinstance(v, bytes) else str(v) for v in values)
    return f"{name}({shown})"


class ChainClient:
    def __init__(self, rpc_url: str, *, timeout: float = 30.0) -> None:
        self.rpc_url = rpc_url
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            try:
                self._chain_id = int(self.w3.eth.chain_id)
            except (OSError, ValueError) as exc:
                raise ChainUnavailable(
                    f"cannot reach the chain at {self.rpc_url} ({exc}); is the node running?"
                ) from exc
        return self._chain_id

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(
            address=to_checksum_address(address), abi=load_artifact(name).abi
        )

    def sign(self, call: ContractFunction, key: LocalAccount, *, nonce: int | None = None) -> bytes:
        """Builds and signs a contract call; simulating it first turns a revert into our error."""
        params: TxParams = {
            "from": key.address,
            "nonce": Nonce(nonce)
            if nonce is not None
            else self.w3.eth.get_transaction_count(key.address, "pending"),
            "chainId": self.chain_id,
        }
        try:
            tx = call.build_transaction(params)
        except (ContractCustomError, ContractLogicError) as exc:
            raise ChainTransactionFailed(
                f"{call.fn_name} would revert: {describe_revert(_revert_data(exc))}"
            ) from exc
        signed = key.sign_transaction(cast(dict[str, Any], tx))
        return bytes(signed.raw_transaction)

    @staticmethod
    def tx_hash_of(raw_tx: bytes) -> str:
        return "0x" + keccak(raw_tx).hex()

    def broadcast(self, raw_tx: bytes) -> str:
        """Sends a signed transaction; a copy already in the pool or mined is not an error.

        Raises `StaleTransaction` when its nonce was used by another transaction: it can never be
        mined, and the caller must sign anew.
        """
        tx_hash = self.tx_hash_of(raw_tx)
        try:
            self.w3.eth.send_raw_transaction(raw_tx)
        except (ValueError, Web3RPCError) as exc:
            text = str(exc).lower()
            if "nonce too low" in text or "nonce has already been used" in text:
                if self.receipt(tx_hash) is None:
                    raise StaleTransaction(
                        f"{tx_hash} lost its nonce to another transaction"
                    ) from exc
            elif not any(s in text for s in ("already known", "already imported")):
                raise
        return tx_hash

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt of a mined transaction, None while it is not mined (or unknown)."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def wait(self, tx_hash: str, *, timeout: float = 120.0) -> TxReceipt:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash), timeout=timeout, poll_latency=0.1
            )
        except TimeExhausted as exc:
            raise ChainUnavailable(f"transaction {tx_hash} not mined after {timeout}s") from exc
        if receipt["status"] != 1:
            raise ChainTransactionFailed(f"transaction {tx_hash} reverted on chain")
        return receipt

    def transact(self, call: ContractFunction, key: LocalAccount) -> TxReceipt:
        return self.wait(self.broadcast(self.sign(call, key)))

    def deploy(self, name: str, key: LocalAccount, *args: Any, nonce: int) -> ChecksumAddress:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        tx = factory.constructor(*args).build_transaction(
            {"from": key.address, "nonce": Nonce(nonce), "chainId": self.chain_id}
        )
        signed = key.sign_transaction(cast(dict[str, Any], tx))
        receipt = self.wait(self.broadcast(bytes(signed.raw_transaction)))
        address = receipt["contractAddress"]
        assert address is not None
        return ChecksumAddress(to_checksum_address(address))


def _revert_data(exc: ContractCustomError | ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        return data.get("data")
    return data


def account_from_key(key: str) -> LocalAccount:
    return cast(LocalAccount, Account.from_key(key))


__all__ = [
    "ChainClient",
    "ChainStateMismatch",
    "ChainTransactionFailed",
    "Deployment",
    "DeploymentMissing",
    "PaymentToken",
    "StaleTransaction",
    "account_from_key",
    "create_address",
    "describe_revert",
]
