"""Envelope encryption: one master key, from configuration, wraps one random data key per
dataset; the data key seals that dataset's media and item data with AES-256-GCM.

Why two levels: a dataset's data is readable only through its own key, so deleting the wrapped
key (a database row) makes every copy of that dataset's objects unreadable, backups included;
and rotating the master key means re-wrapping a few hundred 32-byte keys, not re-encrypting every
stored object.

A sealed object is `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`. The
nonce is random for every object: with 96-bit random nonces one key can seal about 2**32 objects
before a repeat becomes a real risk, far past any dataset. The associated data (the caller's,
plus the version byte) is authenticated but not stored: the caller passes what the object is
(its dataset and key) on both sides, so bytes moved to another key or another dataset no longer
open, and neither do changed bytes nor a wrong key. All of these give `SealBroken`: AES-GCM cannot
tell them apart, and nothing of the plaintext is ever returned when it fails.

The master key is 32 random bytes written as 64 hex digits in a file only the service can read:
`MasterKey.write_new(path)` makes one (or `openssl rand -hex 32 > path; chmod 600 path`), and
`MasterKey.from_file(path)` loads it. Keys never appear in a `repr`, a log line or an error
message; `key_id`, a fingerprint that reveals nothing of the key, says which one is meant.
"""

from __future__ import annotations

import hmac
import os
import re
import struct
from pathlib import Path
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.kit.errors import LedgerError

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
#: What sealing adds to a plaintext: version byte, nonce and tag.
OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES
KEY_ID_BYTES = 8
#: A wrapped data key: the master key's id, then the sealed data key.
WRAPPED_KEY_BYTES = KEY_ID_BYTES + OVERHEAD + KEY_BYTES

_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


class SealBroken(LedgerError):
    """Sealed bytes that do not open: a wrong key, changed bytes, or bytes that belong to another
    object. Our own stored data failing its check is never the client's fault, hence a 500."""

    code = "seal_broken"


class MasterKeyMismatch(SealBroken):
    """A data key wrapped by another master key than the configured one (say, before a
    rotation): said apart from `SealBroken` so an operator knows which key file is missing."""

    code = "master_key_mismatch"


class BadKeyMaterial(LedgerError):
    """A key that is not 32 bytes, or a key file that is missing or malformed: a configuration
    error, reported without the key's contents."""

    code = "bad_key_material"


def frame(*parts: str | int | bytes) -> bytes:
    """Parts joined unambiguously, each as a 4-byte big-endian length and its bytes (text as
    UTF-8, whole numbers in decimal): ("ab", "c") and ("a", "bc") never give the same bytes. Used
    for associated data and for what an access token signs."""
    out = bytearray()
    for part in parts:
        if isinstance(part, bool):
            raise TypeError("frame takes text, whole numbers and bytes, not booleans")
        if isinstance(part, int):
            raw = str(part).encode()
        elif isinstance(part, str):
            raw = part.encode()
        else:
            raw = bytes(part)
        out += struct.pack(">I", len(raw)) + raw
    return bytes(out)


class SecretKey:
    """32 secret bytes that never show themselves: `repr` and `str` give only the class name."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, bytes | bytearray) or len(raw) != KEY_BYTES:
            size = len(raw) if isinstance(raw, bytes | bytearray) else type(raw).__name__
            raise BadKeyMaterial(f"a {type(self).__name__} is {KEY_BYTES} bytes, not {size}")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> Self:
        return cls(os.urandom(KEY_BYTES))

    def secret_bytes(self) -> bytes:
        """The raw key, for the cipher: named so that a use of it is easy to find."""
        return self._raw

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<secret>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey) or type(other) is not type(self):
            return NotImplemented
        return hmac.compare_digest(self._raw, other._raw)

    __hash__ = None  # type: ignore[assignment]  # equal keys compare in constant time only


class DataKey(SecretKey):
    """One dataset's key: seals its media and item data."""


class MasterKey(SecretKey):
    """The key that wraps every dataset's data key; from configuration, never stored beside the
    data. Other keys the service needs (the media URL signing key) are derived from it with
    HKDF under their own purpose, so one secret is configured and no two uses share a key."""

    @classmethod
    def from_hex(cls, text: str) -> Self:
        cleaned = text.strip().removeprefix("0x")
        if not _HEX_KEY.fullmatch(cleaned):
            raise BadKeyMaterial(f"a master key is {2 * KEY_BYTES} hex digits ({KEY_BYTES} bytes)")
        return cls(bytes.fromhex(cleaned))

    @classmethod
    def from_file(cls, path: Path) -> Self:
        """The key written in `path` as 64 hex digits (surrounding whitespace ignored)."""
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadKeyMaterial(
                f"cannot read the master key file {str(path)!r}: {type(exc).__name__}"
            ) from None
        try:
            return cls.from_hex(text)
        except BadKeyMaterial:
            raise BadKeyMaterial(
                f"the master key file {str(path)!r} does not hold {2 * KEY_BYTES} hex digits"
            ) from None

    @classmethod
    def write_new(cls, path: Path) -> Self:
        """Generates a key and writes it to `path`, readable by its owner only. Refuses to replace
        an existing file: losing a master key loses every dataset it wrapped."""
        key = cls.generate()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise BadKeyMaterial(
                f"{str(path)!r} exists: a master key file is never replaced (every dataset key "
                f"it wrapped would become unreadable); move it away deliberately first"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key.secret_bytes().hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        return key

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (HKDF-SHA256); different purposes give unrelated keys."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"label-ledger/" + purpose.encode(),
        )
        return hkdf.derive(self.secret_bytes())

    @property
    def key_id(self) -> str:
        """A public fingerprint of this key (16 hex digits): safe to log and to store."""
        return self.derive("key-id")[:KEY_ID_BYTES].hex()

    def wrap(self, data_key: DataKey, context: bytes) -> bytes:
        """`data_key` sealed under this key and bound to `context` (what it is the key of: the
        caller's dataset), prefixed with this key's id."""
        key_id = bytes.fromhex(self.key_id)
        return key_id + seal(self, data_key.secret_bytes(), frame("data key", key_id, context))

    def unwrap(self, wrapped: bytes, context: bytes) -> DataKey:
        """The data key that `wrap` sealed with the same `context`; `MasterKeyMismatch` when
        another master key wrapped it, `SealBroken` when the bytes or the context differ."""
        if not isinstance(wrapped, bytes | bytearray) or len(wrapped) != WRAPPED_KEY_BYTES:
            raise SealBroken(f"a wrapped data key is {WRAPPED_KEY_BYTES} bytes")
        key_id = bytes(wrapped[:KEY_ID_BYTES])
        if key_id.hex() != self.key_id:
            raise MasterKeyMismatch(
                f"this data key was wrapped by master key {key_id.hex()}, "
                f"but the configured master key is {self.key_id}"
            )
        raw = open_sealed(self, bytes(wrapped[KEY_ID_BYTES:]), frame("data key", key_id, context))
        return DataKey(raw)


def seal(key: SecretKey, plaintext: bytes, associated_data: bytes) -> bytes:
    """`plaintext` encrypted and authenticated under `key` with a fresh random nonce;
    `associated_data` is authenticated too and must be given again to open it."""
    header = bytes([VERSION])
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key.secret_bytes()).encrypt(nonce, plaintext, header + associated_data)
    return header + nonce + body


def open_sealed(key: SecretKey, sealed: bytes, associated_data: bytes) -> bytes:
    """The plaintext of `seal(key, plaintext, associated_data)`, or `SealBroken`."""
    if len(sealed) < OVERHEAD:
        raise SealBroken(f"sealed data is at least {OVERHEAD} bytes; this is {len(sealed)}")
    if sealed[0] != VERSION:
        raise SealBroken(f"sealed data of unknown format version {sealed[0]} (we write {VERSION})")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key.secret_bytes()).decrypt(
            nonce, sealed[1 + NONCE_BYTES :], sealed[:1] + associated_data
        )
    except InvalidTag:
        raise SealBroken(
            "sealed data failed its authentication check: a wrong key, changed bytes, or bytes "
            "stored under another object's name"
        ) from None
