"""Domain value types and the column types for them."""

from __future__ import annotations

import unicodedata
from typing import Annotated, NewType

from eth_utils.address import is_address, to_checksum_address
from pydantic import AfterValidator, Field
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


# --- what requests may carry --------------------------------------------------------------------

#: Row ids are INTEGER columns, 32 bits on PostgreSQL: a larger id cannot name a row, and the
#: database would refuse to even compare with it.
MAX_ROW_ID = 2**31 - 1

#: An id or a count in a request body, path or query string.
RowId = Annotated[int, Field(ge=0, le=MAX_ROW_ID)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters (\\u0000)")
    return value


#: Text from a request: PostgreSQL's text types cannot hold NUL, so it is refused everywhere.
Text = Annotated[str, AfterValidator(_no_nul)]


def nfc(value: str) -> str:
    """Unicode NFC: one byte string for text that looks the same (é as one code point, not e
    plus a combining accent), so two visually identical class names compare equal."""
    return unicodedata.normalize("NFC", value)
