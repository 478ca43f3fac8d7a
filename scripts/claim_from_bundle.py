"""Claim an annotator's earnings from a downloaded proof bundle, with nothing but a JSON-RPC
endpoint: no label-ledger service, no database, only web3.py.

    python scripts/claim_from_bundle.py BUNDLE.json --rpc URL [--key HEX | env CLAIM_KEY]

It checks the bundle against the chain first (chain id, the ledger's accepted payout root, each
proof against that root) and then sends one `claim` per payout leaf from the key's account, which
pays for gas; anyone may claim for anyone, the money always goes to the bundle's account. A leaf
already claimed pays nothing more, so running it twice is harmless.

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

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3

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
    sender = Account.from_key(args.key)
    account = Web3.to_checksum_address(bundle["account"])
    for entitlement in bundle["entitlements"]:
        token = int(entitlement["token_index"])
        payment = int(entitlement["cumulative_payment"])
        reward = int(entitlement["cumulative_reward"])
        leaf = payout_leaf_hash(account, token, payment, reward)
        if proof_root(leaf, entitlement["proof"]) != bytes.fromhex(root[2:]):
            print(f"the proof for token {token} does not lead to the ledger's root: not sending")
            return 1
        call = ledger.functions.claim(account, token, payment, reward, entitlement["proof"])
        tx = call.build_transaction(
            {"from": sender.address, "nonce": w3.eth.get_transaction_count(sender.address)}
        )
        signed = sender.sign_transaction(tx)
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(signed.raw_transaction)
        )
        if receipt["status"] != 1:
            print(f"claim for token {token} reverted in {receipt['transactionHash'].hex()}")
            return 1
        paid, rewarded = ledger.functions.claimed(account, token).call()
        print(
            f"token {token}: {account} has now claimed {paid} (of {payment}) and {rewarded} LABEL "
            f"(of {reward}); tx {receipt['transactionHash'].hex()}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
