"""How the audit spells what it compares: hashes and ids as 0x + 64 hex, amounts in basis
points."""

from __future__ import annotations

from typing import Final

from eth_utils.crypto import keccak

BPS: Final = 10_000


def hash_hex(data: bytes) -> str:
    return "0x" + keccak(data).hex()


def hex32(value: object) -> str:
    return str(value).lower()


def id_hex(dataset_id: int) -> str:
    return "0x" + dataset_id.to_bytes(32, "big").hex()


def fee_of(debit: int, fee_bps: int) -> int:
    """The fee the ledger takes on a debit: debit * feeBps // 10000, rounded down."""
    return debit * fee_bps // BPS
