"""Domain value types and the column types for them."""

from __future__ import annotations

from typing import NewType

from eth_utils.address import is_address, to_checksum_address
from sqlalchemy import String

from ledger.kit.errors import Unprocessable

ChecksumAddress = NewType("ChecksumAddress", str)
Bytes32Hex = NewType("Bytes32Hex", str)

AddressColumn = String(42)  # checksummed 0x address
Bytes32Column = String(66)  # 0x + 64 lowercase hex


def checksum(value: str) -> ChecksumAddress:
    """Checksums an address, refusing anything that is not one with a clear 422."""
    if not isinstance(value, str) or not is_address(value):
        raise Unprocessable(f"{value!r} is not an Ethereum address")
    return ChecksumAddress(to_checksum_address(value))


def bytes32_hex(value: bytes | str) -> Bytes32Hex:
    raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise Unprocessable(f"expected 32 bytes, got {len(raw)}")
    return Bytes32Hex("0x" + raw.hex())
