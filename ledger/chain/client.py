"""The one chain client: contracts from the deployment file, signing, sending, revert decoding."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import rlp
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from pydantic import SecretStr
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
from ledger.chain.fees import DEFAULT_MAX_FEE_GWEI, cap_wei, quote, replacement_fees
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


class BadPrivateKey(LedgerError, ValueError):
    status_code = 400
    code = "bad_private_key"


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

    `ledger` is the LabelLedger, which is also the LABEL ERC-20 (6 decimals). `network` names
    the chain when it is one of `ledger.chain.networks`; `confirmations` and `max_reorg_depth`
    are that network's, and the mirror uses them unless LABEL_LEDGER_CONFIRMATIONS and
    LABEL_LEDGER_MIRROR_MAX_REORG_DEPTH say otherwise (None: the settings' own defaults).
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
    network: str | None = None
    confirmations: int | None = None
    max_reorg_depth: int | None = None

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
    """`max_fee_per_gas_gwei`: no transaction this client signs offers more per gas
    (`ledger.chain.fees`); LABEL_LEDGER_MAX_FEE_PER_GAS_GWEI in a running instance."""

    def __init__(
        self,
        rpc_url: str,
        *,
        timeout: float = 30.0,
        max_fee_per_gas_gwei: float = DEFAULT_MAX_FEE_GWEI,
        stuck_after: float = 120.0,
    ) -> None:
        self.rpc_url = rpc_url
        # seconds an unmined transaction of ours waits before settlement replaces it with higher
        # fees (`send_until_mined`); LABEL_LEDGER_TX_STUCK_AFTER_SECONDS
        self.stuck_after = stuck_after
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self._chain_id: int | None = None
        self.max_fee_per_gas = cap_wei(max_fee_per_gas_gwei)

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
        """Builds and signs a contract call (EIP-1559 fees under the cap, `ledger.chain.fees`);
        simulating it first turns a revert into our error. Raises `GasPriceAboveCap` rather
        than sign above the cap."""
        params = cast(
            TxParams,
            {
                "from": key.address,
                "nonce": Nonce(nonce)
                if nonce is not None
                else self.w3.eth.get_transaction_count(key.address, "pending"),
                "chainId": self.chain_id,
                **quote(self.w3, self.max_fee_per_gas).params(),
            },
        )
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
        params = {
            "from": key.address,
            "nonce": Nonce(nonce),
            "chainId": self.chain_id,
            **quote(self.w3, self.max_fee_per_gas).params(),
        }
        tx = factory.constructor(*args).build_transaction(cast(TxParams, params))
        signed = key.sign_transaction(cast(dict[str, Any], tx))
        receipt = self.wait(self.broadcast(bytes(signed.raw_transaction)))
        address = receipt["contractAddress"]
        assert address is not None
        return ChecksumAddress(to_checksum_address(address))

    # --- stuck transactions ---

    def replace(self, raw_tx: bytes, key: LocalAccount) -> bytes:
        """A replacement for the signed `raw_tx`: same nonce, to, data, value and gas limit,
        both fees at least 12.5% higher (and at least what a new transaction would offer now),
        signed by `key`, which must be its sender. Never above the cap: `GasPriceAboveCap`.
        Nothing is broadcast."""
        fields = decode_transaction(raw_tx)
        sender = Account.recover_transaction(raw_tx)
        if sender.lower() != key.address.lower():
            raise ValueError(f"transaction is from {sender}, not from the signer {key.address}")
        if fields.get("type") == 2:
            fees = replacement_fees(
                self.w3,
                self.max_fee_per_gas,
                max_fee=int(fields["maxFeePerGas"]),
                max_priority_fee=int(fields["maxPriorityFeePerGas"]),
            )
        else:
            price = int(fields["gasPrice"])
            fees = replacement_fees(
                self.w3, self.max_fee_per_gas, max_fee=price, max_priority_fee=price
            )
        tx: dict[str, Any] = {
            "nonce": int(fields["nonce"]),
            "to": to_checksum_address(fields["to"]) if fields.get("to") else b"",
            "value": int(fields["value"]),
            "data": HexBytes(fields["data"]),
            "gas": int(fields["gas"]),
            "chainId": int(fields["chainId"]) if fields.get("chainId") else self.chain_id,
            **fees.params(),
        }
        if not tx["to"]:
            del tx["to"]
        if fields.get("accessList"):
            tx["accessList"] = fields["accessList"]
        return bytes(key.sign_transaction(tx).raw_transaction)

    def send_until_mined(
        self,
        raw_tx: bytes,
        key: LocalAccount,
        *,
        store: Callable[[bytes], None],
        stuck_after: float,
        timeout: float,
        poll_seconds: float = 0.5,
        search_blocks: int = 100_000,
    ) -> TxReceipt:
        """Broadcasts the signed `raw_tx` and sees its nonce used, replacing it while stuck.

        The contract, for a caller that must never send a payment twice:

        1. `raw_tx` is broadcast (a copy the node already has, or one already mined, is fine).
        2. Every `poll_seconds` the receipt of every version sent for this nonce by this call
           is looked up; the first one mined is returned (a reverted one raises
           `ChainTransactionFailed`, as `wait` does).
        3. When none is mined `stuck_after` seconds after the last broadcast and the nonce is
           still free (`eth_getTransactionCount(sender, "latest") <= nonce`), a replacement is
           built (`replace`: same nonce, to, data, value, gas; fees +12.5% or more, capped),
           `store(new_raw)` is called BEFORE it is broadcast, then it is broadcast. `store`
           must persist the bytes durably (commit) before returning: after a crash, call this
           again with the stored bytes and the same transaction is resent, never a new one. If
           `store` raises, nothing more is broadcast and the error propagates.
        4. When the nonce is used and none of the hashes this call sent has a receipt (a
           version from before a crash was mined), the block that used the nonce is found
           (binary search on the sender's nonce over the last `search_blocks` blocks) and the
           mined transaction's receipt is returned if it is a version of this one (same to,
           data, value); otherwise `StaleTransaction` (the nonce went to another transaction:
           sign anew).
        5. After `timeout` seconds without a receipt, `ChainUnavailable`; the last version has
           been stored, so calling again with it resumes.

        At most one transaction for the nonce is ever mined (nodes replace by nonce), so at
        most one payment. Fees never go above the cap: `GasPriceAboveCap` when a replacement
        would have to (the stored version stays valid; call again later or raise the cap).
        """
        fields = decode_transaction(raw_tx)
        nonce = int(fields["nonce"])
        sender = Account.recover_transaction(raw_tx)
        current = raw_tx
        hashes = [self.tx_hash_of(raw_tx)]
        started = sent_at = time.monotonic()
        if not self.offer(raw_tx):
            sent_at = started - stuck_after  # refused as underpriced: replace it at once
        while True:
            for tx_hash in hashes:
                receipt = self.receipt(tx_hash)
                if receipt is not None:
                    return self._succeeded(tx_hash, receipt)
            used = int(self.w3.eth.get_transaction_count(to_checksum_address(sender), "latest"))
            if used > nonce:
                # mined meanwhile under a hash we know? look once more before searching
                for tx_hash in hashes:
                    receipt = self.receipt(tx_hash)
                    if receipt is not None:
                        return self._succeeded(tx_hash, receipt)
                return self._mined_version(fields, sender, nonce, search_blocks)
            now = time.monotonic()
            if now - started >= timeout:
                raise ChainUnavailable(
                    f"nonce {nonce} of {sender} not mined after {timeout:.0f}s "
                    f"({len(hashes)} version(s) sent, the last {hashes[-1]}): call again with "
                    "the stored transaction to keep waiting"
                )
            if now - sent_at >= stuck_after:
                replacement = self.replace(current, key)
                store(replacement)
                current = replacement
                hashes.append(self.tx_hash_of(replacement))
                sent_at = time.monotonic()
                if not self.offer(replacement):
                    sent_at -= stuck_after  # underpriced already: bump again next round
            time.sleep(poll_seconds)

    def offer(self, raw_tx: bytes, *, stale_ok: bool = True) -> bool:
        """Broadcasts; False when the node refuses it as underpriced (its fees are below the
        base fee, or it does not outbid the version in the pool): only a replacement helps. A
        lost nonce is not an error here (the caller looks for what used it) unless `stale_ok`
        is False: then `StaleTransaction` is raised, for a caller that must decide at once
        whether the node it reads from is merely behind."""
        try:
            self.broadcast(raw_tx)
        except StaleTransaction:
            if not stale_ok:
                raise
            return True
        except (ValueError, Web3RPCError) as exc:
            if any(s in str(exc).lower() for s in _UNDERPRICED):
                return False
            raise
        return True

    def _succeeded(self, tx_hash: str, receipt: TxReceipt) -> TxReceipt:
        if receipt["status"] != 1:
            raise ChainTransactionFailed(f"transaction {tx_hash} reverted on chain")
        return receipt

    def _mined_version(
        self, fields: dict[str, Any], sender: str, nonce: int, search_blocks: int
    ) -> TxReceipt:
        """The receipt of the transaction that used `nonce` of `sender`, when it is a version
        of `fields` (same to, data, value); `StaleTransaction` otherwise."""
        account = to_checksum_address(sender)
        head = int(self.w3.eth.block_number)
        low, high = max(0, head - search_blocks), head
        count = self.w3.eth.get_transaction_count
        if int(count(account, low)) > nonce:
            raise StaleTransaction(
                f"nonce {nonce} of {sender} was used more than {search_blocks} blocks ago by "
                "a transaction this call did not send: sign anew"
            )
        while low < high:  # the first block after which the nonce is used
            middle = (low + high) // 2
            if int(count(account, middle)) > nonce:
                high = middle
            else:
                low = middle + 1
        block = self.w3.eth.get_block(high, full_transactions=True)
        for tx in block["transactions"]:
            if isinstance(tx, bytes | str) or int(tx["nonce"]) != nonce:
                continue
            if str(tx["from"]).lower() != sender.lower():
                continue
            same = (
                _address_hex(tx.get("to")) == _address_hex(fields.get("to"))
                and HexBytes(tx["input"]) == HexBytes(fields["data"])
                and int(tx["value"]) == int(fields["value"])
            )
            tx_hash = "0x" + HexBytes(tx["hash"]).hex().removeprefix("0x")
            if not same:
                break
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return self._succeeded(tx_hash, receipt)
        raise StaleTransaction(
            f"nonce {nonce} of {sender} was used by a transaction other than this one "
            f"(block {high}): sign anew"
        )


# What nodes say when a transaction's fees are too low to enter the pool or to replace the one
# there (geth, reth, Anvil, Nitro, op-geth).
_UNDERPRICED = ("underpriced", "less than block base fee", "fee too low", "feecap too low")


def _address_hex(value: object) -> str:
    """An address as lowercase 0x hex, whether str or bytes; "" for none (a creation)."""
    if not value:
        return ""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return str(value).lower()


def decode_transaction(raw_tx: bytes) -> dict[str, Any]:
    """The fields of a signed transaction: a typed one (EIP-2718) or a legacy one."""
    if raw_tx and raw_tx[0] < 0x7F:
        return TypedTransaction.from_bytes(HexBytes(raw_tx)).as_dict()
    nonce, gas_price, gas, to, value, data, v, _r, _s = rlp.decode(raw_tx)
    v_int = int.from_bytes(v, "big")
    return {
        "type": 0,
        "nonce": int.from_bytes(nonce, "big"),
        "gasPrice": int.from_bytes(gas_price, "big"),
        "gas": int.from_bytes(gas, "big"),
        "to": HexBytes(to) if to else None,
        "value": int.from_bytes(value, "big"),
        "data": HexBytes(data),
        "chainId": (v_int - 35) // 2 if v_int >= 35 else None,
    }


def _revert_data(exc: ContractCustomError | ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        return data.get("data")
    return data


def account_from_key(key: str | SecretStr) -> LocalAccount:
    """The account of a hex private key (with or without 0x). A malformed key raises
    `BadPrivateKey`, whose message never quotes it."""
    secret = key.get_secret_value() if isinstance(key, SecretStr) else key
    try:
        return cast(LocalAccount, Account.from_key(secret.strip()))
    except Exception:
        raise BadPrivateKey(
            "the private key is not 32 bytes of hex (64 hex digits, 0x optional)"
        ) from None


__all__ = [
    "BadPrivateKey",
    "ChainClient",
    "ChainStateMismatch",
    "ChainTransactionFailed",
    "Deployment",
    "DeploymentMissing",
    "PaymentToken",
    "StaleTransaction",
    "account_from_key",
    "create_address",
    "decode_transaction",
    "describe_revert",
]
