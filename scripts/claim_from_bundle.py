"""Claim an annotator's earnings from a downloaded proof bundle, with nothing but a JSON-RPC
endpoint: no label-ledger service, no database, only web3.py.

    .venv/bin/python scripts/claim_from_bundle.py BUNDLE.json --rpc URL --key HEX

from the repository after ./scripts/setup (elsewhere: any Python after `pip install web3`); the
key may come from the environment as CLAIM_KEY instead.

It checks the bundle against the chain first (chain id, the ledger's accepted payout root, each
proof against that root, and what the account has already claimed) and then sends one `claim` for
each payout leaf that still pays something, from the key's account, which pays for gas; anyone may
claim for anyone, the money always goes to the bundle's account. When everything is claimed
already it says "nothing left to claim" and sends nothing, so running it twice costs no gas.

Without Python, the same can be done from any wallet that can send a raw transaction: send the
bundle's `data` to its `to` (the ledger), with no value.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

try:
    from eth_abi.abi import encode as abi_encode
    from eth_account import Account
    from eth_utils.crypto import keccak
    from web3 import Web3
    from web3.contract import Contract
except ImportError as missing:
    sys.exit(
        f"claim_from_bundle.py needs web3.py ({missing}). From the repository, run it with the "
        "Python that ./scripts/setup installs: .venv/bin/python scripts/claim_from_bundle.py ...; "
        "elsewhere, `pip install web3` first."
    )

LEDGER_ABI: list[dict[str, Any]] = [
    {
        "name": "claim",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "account", "type": "address"},
            {"name": "token", "type": "uint16"},
            {"name": "cumulativePayment", "type": "uint256"},
            {"name": "cumulativeReward", "type": "uint256"},
            {"name": "proof", "type": "bytes32[]"},
        ],
        "outputs": [{"type": "uint256"}, {"type": "uint256"}],
    },
    {
        "name": "payoutRoot",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": "bytes32"}],
    },
    {
        "name": "claimed",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "account", "type": "address"}, {"name": "token", "type": "uint16"}],
        "outputs": [{"type": "uint256"}, {"type": "uint256"}],
    },
]
#: Enough of ERC-20 to show amounts in the token's own units (the ledger is LABEL's ERC-20).
TOKEN_ABI: list[dict[str, Any]] = [
    {
        "name": name,
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"type": kind}],
    }
    for name, kind in (("symbol", "string"), ("decimals", "uint8"))
]


def payout_leaf_hash(account: str, token: int, payment: int, reward: int) -> bytes:
    """OpenZeppelin standard-v1: keccak256(keccak256(abi.encode(account, token, payment, reward)))."""
    encoded = abi_encode(
        ["address", "uint16", "uint256", "uint256"], [account, token, payment, reward]
    )
    return keccak(keccak(encoded))


def proof_root(leaf: bytes, proof: list[str]) -> bytes:
    node = leaf
    for sibling_hex in proof:
        sibling = bytes.fromhex(sibling_hex.removeprefix("0x"))
        node = keccak(min(node, sibling) + max(node, sibling))
    return node


class Units:
    """A token's symbol and decimals, read from the chain, to show amounts as people read them.
    (Kept here rather than imported: this script runs with web3.py alone.)"""

    def __init__(self, w3: Web3, address: str) -> None:
        token = w3.eth.contract(address=Web3.to_checksum_address(address), abi=TOKEN_ABI)
        try:
            self.symbol = str(token.functions.symbol().call())
            self.decimals = int(token.functions.decimals().call())
        except Exception:  # symbol and decimals are optional in ERC-20: show base units then
            self.symbol, self.decimals = f"base units of {address}", 0

    def __call__(self, amount: int) -> str:
        whole, fraction = divmod(amount, 10**self.decimals)
        text = f"{whole:,}"
        if fraction:
            text += "." + str(fraction).zfill(self.decimals).rstrip("0")
        return f"{text} {self.symbol}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path, help="the proof bundle JSON file")
    parser.add_argument("--rpc", required=True, help="JSON-RPC URL of the ledger's chain")
    parser.add_argument("--key", default=os.environ.get("CLAIM_KEY"), help="sender's private key")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("give --key or set CLAIM_KEY: the account that sends (and pays gas for) it")

    bundle = json.loads(args.bundle.read_text())
    w3 = Web3(Web3.HTTPProvider(args.rpc))
    if w3.eth.chain_id != bundle["chain_id"]:
        print(f"the RPC serves chain {w3.eth.chain_id}, the bundle is for {bundle['chain_id']}")
        return 2
    ledger = w3.eth.contract(address=Web3.to_checksum_address(bundle["ledger"]), abi=LEDGER_ABI)
    root = "0x" + bytes(ledger.functions.payoutRoot().call()).hex()
    if root != bundle["root"].lower():
        print(
            f"the ledger's accepted root is {root}, the bundle's (epoch {bundle['epoch']}) is "
            f"{bundle['root']}: download the bundle of the epoch the ledger accepted last"
        )
        return 2
    account = Web3.to_checksum_address(bundle["account"])
    label = Units(w3, bundle["ledger"])
    owed = []
    for entitlement in bundle["entitlements"]:
        token = int(entitlement["token_index"])
        payment = int(entitlement["cumulative_payment"])
        reward = int(entitlement["cumulative_reward"])
        leaf = payout_leaf_hash(account, token, payment, reward)
        if proof_root(leaf, entitlement["proof"]) != bytes.fromhex(root[2:]):
            print(f"the proof for token {token} does not lead to the ledger's root: not sending")
            return 1
        paid, rewarded = ledger.functions.claimed(account, token).call()
        money = Units(w3, entitlement["token"])
        if paid >= payment and rewarded >= reward:
            print(
                f"token {token}: nothing left to claim, {account} has already claimed "
                f"{money(paid)} and {label(rewarded)} of epoch {bundle['epoch']}'s "
                f"{money(payment)} and {label(reward)}"
            )
            continue
        owed.append((entitlement, money, payment - paid, reward - rewarded))
    if not owed:
        print(f"nothing left to claim for {account}: nothing sent, no gas spent")
        return 0
    sender = Account.from_key(args.key)
    for entitlement, money, payment_due, reward_due in owed:
        receipt = _send_claim(w3, ledger, sender, account, entitlement)
        token = int(entitlement["token_index"])
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            print(f"claim for token {token} reverted in {tx}")
            return 1
        paid, rewarded = ledger.functions.claimed(account, token).call()
        print(
            f"token {token}: paid {money(payment_due)} and {label(reward_due)} to {account}, "
            f"who has now claimed {money(paid)} and {label(rewarded)}; tx {tx}"
        )
    return 0


def _send_claim(
    w3: Web3, ledger: Contract, sender: Any, account: str, entitlement: dict[str, Any]
) -> Any:
    call = ledger.functions.claim(
        account,
        int(entitlement["token_index"]),
        int(entitlement["cumulative_payment"]),
        int(entitlement["cumulative_reward"]),
        entitlement["proof"],
    )
    tx = call.build_transaction(
        {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address, "pending")}
    )
    signed = sender.sign_transaction(tx)
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))


if __name__ == "__main__":
    sys.exit(main())
