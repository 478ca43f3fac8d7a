"""The project's one Merkle-tree implementation: OpenZeppelin ``StandardMerkleTree``, "standard-v1".

This module owns, for every Merkle root label-ledger publishes on chain:

* how a leaf value is validated, normalised and ABI-encoded,
* the leaf hash ``keccak256(keccak256(abi.encode(types, values)))``,
* the tree layout, the proofs, and the proof check an auditor runs with only the root,
* the ``standard-v1`` JSON dump, byte for byte what ``JSON.stringify(tree.dump())`` writes with
  ``@openzeppelin/merkle-tree`` 1.0.8, and loading (with full validation) of such dumps.

It is a port from the JS library's behaviour, which is the specification (the same leaves give
the same root and the same proofs, which ``MerkleProof.verify`` in OpenZeppelin's Solidity library
accepts):

* Leaves are hashed once and (by default) sorted ascending by hash; the sort is stable, so equal
  leaves keep their input order.
* The tree is an array of ``2n - 1`` nodes: node ``i`` has children ``2i + 1`` and ``2i + 2``, the
  ``n`` leaves fill the end of the array in *reverse* sorted order (the smallest hash is the last
  node), and an internal node is ``keccak256`` of its two children concatenated smallest first.
* ``values`` keeps the caller's order; each entry records the ``treeIndex`` of its leaf.
* A proof lists sibling hashes from the leaf up to (excluding) the root.

Values in the tree (and so in dumps and ``entries()``) are the JSON forms the JS library would
store when given the same JSON input.  The project convention, which every caller follows, is:
``uint``/``int`` as decimal strings (Python ints are accepted and converted, because a JSON number
cannot carry a uint256 through JavaScript), addresses as EIP-55 checksummed strings (single-case
ones are accepted too, mixed case must be a valid checksum; stored exactly as given), ``bytesN`` as
``0x`` lowercase hex (hex strings are stored as given; Python ``bytes`` are converted), ``bool`` as
JSON booleans, ``string`` as is.

Supported leaf types: ``address``, ``bool``, ``string``, ``bytes``, ``bytes1``..``bytes32``,
``uint8``..``uint256`` and ``int8``..``int256`` (multiples of 8).  Arrays and tuples are not.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, NamedTuple, Self, TypeAlias, TypedDict

from Crypto.Hash.keccak import Keccak_Hash as _KeccakHash

try:
    # safe-pysha3: a C extension whose keccak_256 costs ~1 us a call, where pycryptodome's costs
    # ~6 us (it goes through ctypes): a 1M-label epoch hashes over 3M times.
    from _pysha3 import keccak_256 as _new_keccak  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - only when the pinned safe-pysha3 is not installed

    def _new_keccak(data: bytes) -> Any:
        # pycryptodome's Keccak_Hash constructor directly: ~20% faster per call than keccak.new()
        # or eth_hash.auto, which wrap the same C code in more Python.
        return _KeccakHash(data, 32, False)


__all__ = [
    "FORMAT",
    "DumpEntry",
    "InvalidDumpError",
    "LeafValue",
    "MerkleTreeError",
    "MultiProof",
    "StandardMerkleTree",
    "StandardV1Dump",
    "keccak256",
    "new_keccak256",
    "verify_multiproof",
    "verify_proof",
]

FORMAT: Final = "standard-v1"

JsonScalar: TypeAlias = str | bool
#: A leaf value as stored in the tree: one JSON scalar per leaf-encoding type.
LeafValue: TypeAlias = tuple[JsonScalar, ...]
# A field parser validates one raw value and returns (stored JSON form, ABI payload): the 32-byte
# head word for a static type, the unpadded content for ``string``/``bytes``.
_FieldParser: TypeAlias = Callable[[object], tuple[JsonScalar, bytes]]


class DumpEntry(TypedDict):
    """One entry of a dump's ``values``: a leaf value (input order) and its node in ``tree``."""

    value: list[JsonScalar]
    treeIndex: int  # the JSON field names of the format are camelCase


class StandardV1Dump(TypedDict):
    """The ``standard-v1`` dump; key order as the JS library writes it."""

    format: str
    leafEncoding: list[str]
    tree: list[str]
    values: list[DumpEntry]


class MultiProof(NamedTuple):
    """Leaves (in the order a multiproof verifier takes them), proof hashes and proof flags."""

    leaves: list[LeafValue]
    proof: list[str]
    proof_flags: list[bool]


def verify_multiproof(
    root: str | bytes, leaf_encoding: Sequence[str], multiproof: MultiProof
) -> bool:
    """OpenZeppelin's ``processMultiProof`` against a published root; no tree needed."""
    codec = _codec_for(leaf_encoding)
    leaves = [codec.leaf_hash(v) for v in multiproof.leaves]
    proof = _parse_proof(multiproof.proof)
    flags = multiproof.proof_flags
    if len(proof) + len(leaves) != len(flags) + 1:
        return False
    hashes: list[bytes] = []
    leaf_pos = hash_pos = proof_pos = 0

    def take() -> bytes:
        """The next leaf while any is left, then the next hash computed so far."""
        nonlocal leaf_pos, hash_pos
        if leaf_pos < len(leaves):
            leaf_pos += 1
            return leaves[leaf_pos - 1]
        hash_pos += 1
        return hashes[hash_pos - 1]

    for flag in flags:
        a = take()
        if flag:
            b = take()
        else:
            if proof_pos >= len(proof):
                return False
            b = proof[proof_pos]
            proof_pos += 1
        hashes.append(_node_hash(a, b))
    if flags:
        result = hashes[-1]
    elif leaves:
        result = leaves[0]
    else:
        result = proof[0]
    return result == _parse_hash(root, "root")


class MerkleTreeError(ValueError):
    """Invalid input to a Merkle operation: a leaf value, a leaf encoding, a proof or an index."""


class InvalidDumpError(MerkleTreeError):
    """A dump that is not a valid, self-consistent standard-v1 tree."""


#: A keccak256 hash object of `data` (`.digest()`, `.hexdigest()`): for loops that hash millions.
new_keccak256: Callable[[bytes], Any] = _new_keccak


def keccak256(data: bytes) -> bytes:
    """keccak256 of bytes, as fast as Python calls it (tree building and item ingest).  The tests
    compare it with eth_hash."""
    digest: bytes = _new_keccak(data).digest()
    return digest


_keccak256 = keccak256


def _node_hash(a: bytes, b: bytes) -> bytes:
    # Pairs are hashed sorted so that a proof needs no left/right flags (OpenZeppelin's
    # MerkleProof does the same on chain).  Byte order equals the JS library's numeric order
    # because every node is exactly 32 bytes.
    return _keccak256(a + b if a <= b else b + a)


def _short(raw: object) -> str:
    # Error messages must stay readable even when a caller passes a megabyte-long string.
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------------------------
# Leaf values: validation, normalisation to the stored JSON form, ABI encoding.
# --------------------------------------------------------------------------------------------

_WORD = 32
_ZERO_WORD: Final = bytes(_WORD)
_ONE_WORD: Final = (1).to_bytes(_WORD, "big")
_ADDRESS_PAD: Final = bytes(12)
# Canonical decimals only: no sign on zero, no leading zeros, no "_", no whitespace, ASCII digits
# (int() would accept all of those, and each would give a second dump text for the same leaf).
_UDEC_RE: Final = re.compile(r"0|[1-9][0-9]*")
_SDEC_RE: Final = re.compile(r"0|-?[1-9][0-9]*")
_HEX_BODY_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_NODE_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_PROOF_NODE_RE: Final = re.compile(r"0x[0-9a-fA-F]{64}")
_INT_TYPE_RE: Final = re.compile(r"(u?)int([1-9][0-9]*)")
_FIXED_BYTES_TYPE_RE: Final = re.compile(r"bytes([1-9][0-9]*)")
# 2**256 has 78 decimal digits; a longer numeral is out of range for every type (and int() of a
# very long numeral is slow or refused outright).
_MAX_DECIMAL_LEN: Final = 79


# EIP-55 check as bit masks built with str.translate: one C-level pass per string instead of a
# Python loop over 40 characters, which dominated building trees with many distinct addresses.
_UPPER_BITS: Final = str.maketrans("0123456789abcdefABCDEF", "0000000000000000111111")
_LETTER_BITS: Final = str.maketrans("0123456789abcdefABCDEF", "0000000000111111111111")
_NIBBLE_HIGH_BITS: Final = str.maketrans("0123456789abcdef", "0000000011111111")


def _has_valid_checksum(body: str) -> bool:
    """Whether a 40-hex-digit address body is EIP-55 cased: a letter is uppercase exactly when
    the matching nibble of keccak256(lowercase body) is 8 or more."""
    digest = _keccak256(body.lower().encode("ascii")).hex()[:40]
    upper = int(body.translate(_UPPER_BITS), 2)
    letters = int(body.translate(_LETTER_BITS), 2)
    return upper == int(digest.translate(_NIBBLE_HIGH_BITS), 2) & letters


@lru_cache(maxsize=1 << 16)
def _address_word(raw: str) -> bytes:
    # Cached: payout trees repeat the same addresses many times, and the checksum check costs a
    # keccak of its own.  Only successful results are cached (exceptions are not).
    if _ADDRESS_RE.fullmatch(raw) is None:
        raise MerkleTreeError(f"expected a 0x-prefixed 20-byte hex address, got {_short(raw)}")
    body = raw[2:]
    # Single-case (or all-digit) addresses carry no checksum and are accepted, as eth_abi and the
    # JS library accept them; mixed case must be a correct EIP-55 checksum, as web3 demands, so
    # that a corrupted checksummed address is caught instead of paying someone else.
    if not (body.islower() or body.isupper() or body.isdigit()) and not _has_valid_checksum(body):
        raise MerkleTreeError(f"address has an invalid EIP-55 checksum: {raw}")
    return _ADDRESS_PAD + bytes.fromhex(body)


def _parse_address(raw: object) -> tuple[JsonScalar, bytes]:
    if not isinstance(raw, str):
        raise MerkleTreeError(f"expected an address string, got {_short(raw)}")
    return raw, _address_word(raw)


def _parse_bool(raw: object) -> tuple[JsonScalar, bytes]:
    # Only real booleans: 0/1 or "true" would silently pick a leaf the caller did not mean.
    if raw is True:
        return True, _ONE_WORD
    if raw is False:
        return False, _ZERO_WORD
    raise MerkleTreeError(f"expected a bool, got {_short(raw)}")


def _int_parser(bits: int, *, signed: bool) -> _FieldParser:
    low = -(1 << (bits - 1)) if signed else 0
    high = (1 << (bits - 1)) if signed else (1 << bits)  # exclusive
    pattern = _SDEC_RE if signed else _UDEC_RE
    type_name = f"{'' if signed else 'u'}int{bits}"

    def parse(raw: object) -> tuple[JsonScalar, bytes]:
        if isinstance(raw, str):
            if len(raw) > _MAX_DECIMAL_LEN or pattern.fullmatch(raw) is None:
                raise MerkleTreeError(
                    f"expected a canonical decimal string for {type_name}, got {_short(raw)}"
                )
            number = int(raw)
            stored = raw
        elif isinstance(raw, int) and not isinstance(raw, bool):
            number = int(raw)  # int() strips subclasses such as IntEnum, whose str() differs
            stored = str(number)
        else:
            raise MerkleTreeError(
                f"expected an int or decimal string for {type_name}, got {_short(raw)}"
            )
        if not low <= number < high:
            raise MerkleTreeError(f"{stored} is out of range for {type_name}")
        return stored, number.to_bytes(_WORD, "big", signed=signed)

    return parse


def _hex_or_bytes(raw: object, type_name: str, size: int | None) -> tuple[str, bytes]:
    """Return (stored form, content) for a ``bytes``/``bytesN`` value; ``size`` None = any."""
    if isinstance(raw, str):
        # Checked before bytes.fromhex, which would also accept whitespace.
        if not raw.startswith("0x") or _HEX_BODY_RE.fullmatch(raw, 2) is None:
            raise MerkleTreeError(f"expected 0x-prefixed hex for {type_name}, got {_short(raw)}")
        stored, content = raw, bytes.fromhex(raw[2:])
    elif isinstance(raw, bytes | bytearray):
        content = bytes(raw)
        stored = "0x" + content.hex()
    else:
        raise MerkleTreeError(f"expected 0x-prefixed hex for {type_name}, got {_short(raw)}")
    if size is not None and len(content) != size:
        # Exact length, although abi.encode pads shorter input: a short value is a caller bug.
        raise MerkleTreeError(f"expected {size} bytes for {type_name}, got {len(content)}")
    return stored, content


def _fixed_bytes_parser(size: int) -> _FieldParser:
    type_name = f"bytes{size}"
    padding = bytes(_WORD - size)

    text_length = 2 + 2 * size

    def parse(raw: object) -> tuple[JsonScalar, bytes]:
        # Fast path for the usual well-formed hex: fromhex skips whitespace, but then fewer than
        # `size` bytes come out and the general path below refuses it as it always did.
        if type(raw) is str and len(raw) == text_length and raw[:2] == "0x":
            try:
                content = bytes.fromhex(raw[2:])
            except ValueError:
                content = b""
            if len(content) == size:
                return raw, content + padding
        stored, content = _hex_or_bytes(raw, type_name, size)
        return stored, content + padding

    return parse


def _parse_dynamic_bytes(raw: object) -> tuple[JsonScalar, bytes]:
    return _hex_or_bytes(raw, "bytes", None)


def _parse_string(raw: object) -> tuple[JsonScalar, bytes]:
    if not isinstance(raw, str):
        raise MerkleTreeError(f"expected a str, got {_short(raw)}")
    try:
        content = raw.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: JS would hash U+FFFD instead, so no leaf could match both sides.
        raise MerkleTreeError(f"string is not valid Unicode: {_short(raw)}") from None
    return raw, content


class _Field(NamedTuple):
    type_name: str
    dynamic: bool
    parse: _FieldParser
    # Whether the stored form is always a str that JSON writes verbatim between quotes (no
    # character to escape): true for the types whose stored strings the parser checks against a
    # hex or decimal pattern, which lets :meth:`StandardMerkleTree.dumps` skip the JSON encoder.
    plain_json: bool


def _field(type_name: object) -> _Field:
    if not isinstance(type_name, str):
        raise MerkleTreeError(
            f"leaf encoding entries must be ABI type names, got {_short(type_name)}"
        )
    if type_name == "address":
        return _Field(type_name, False, _parse_address, plain_json=True)
    if type_name == "bool":
        return _Field(type_name, False, _parse_bool, plain_json=False)
    if type_name == "string":
        return _Field(type_name, True, _parse_string, plain_json=False)
    if type_name == "bytes":
        return _Field(type_name, True, _parse_dynamic_bytes, plain_json=True)
    if (match := _INT_TYPE_RE.fullmatch(type_name)) is not None:
        bits = int(match[2])
        if bits <= 256 and bits % 8 == 0:
            return _Field(type_name, False, _int_parser(bits, signed=not match[1]), plain_json=True)
    elif (match := _FIXED_BYTES_TYPE_RE.fullmatch(type_name)) is not None:
        size = int(match[1])
        if size <= _WORD:
            return _Field(type_name, False, _fixed_bytes_parser(size), plain_json=True)
    # Aliases such as "uint" are refused too: the dump stores the encoding verbatim, so one
    # spelling per type keeps dumps comparable.
    raise MerkleTreeError(f"unsupported leaf type {type_name!r}")


class _LeafCodec:
    """Validates, normalises and ABI-encodes leaf values of one leaf encoding."""

    __slots__ = ("_dynamic", "_fields", "plain_json", "types")

    def __init__(self, leaf_encoding: object) -> None:
        if isinstance(leaf_encoding, str | bytes) or not isinstance(leaf_encoding, Sequence):
            raise MerkleTreeError("leaf encoding must be a list of ABI type names")
        if not leaf_encoding:
            raise MerkleTreeError("leaf encoding must name at least one type")
        self._fields = tuple(_field(t) for t in leaf_encoding)
        self._dynamic = any(f.dynamic for f in self._fields)
        self.types: tuple[str, ...] = tuple(f.type_name for f in self._fields)
        # For dumps: whether every stored field is a JSON string needing no escaping.
        self.plain_json = all(f.plain_json for f in self._fields)

    def encode(self, value: object) -> tuple[LeafValue, bytes]:
        """Return (stored JSON form, ``abi.encode(types, value)``)."""
        if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence):
            raise MerkleTreeError(f"a leaf value must be a list of fields, got {_short(value)}")
        if len(value) != len(self._fields):
            raise MerkleTreeError(
                f"leaf has {len(value)} fields, its encoding {list(self.types)} has "
                f"{len(self._fields)}"
            )
        stored: list[JsonScalar] = []
        parts: list[bytes] = []
        for position, (field, raw) in enumerate(zip(self._fields, value, strict=True)):
            try:
                json_form, payload = field.parse(raw)
            except MerkleTreeError as exc:
                raise MerkleTreeError(f"field {position} ({field.type_name}): {exc}") from None
            stored.append(json_form)
            parts.append(payload)
        if self._dynamic:
            parts = self._with_tails(parts)
        return tuple(stored), b"".join(parts)

    def leaf_hashes(self, values: Sequence[object]) -> tuple[list[LeafValue], list[bytes]]:
        """(stored JSON forms, leaf hashes) of many values: exactly what :meth:`encode` and a
        double keccak give one by one, computed a field (column) at a time: a field whose values
        repeat (the accounts, datasets, methods and prices of a million labels are a few
        thousand values) is parsed once per distinct value."""
        width = len(self._fields)
        if not all(type(v) in (list, tuple) and len(v) == width for v in values):  # type: ignore[arg-type]
            return self._leaf_hashes_one_by_one(values)
        columns: list[tuple[object, ...]] = list(zip(*values, strict=True))
        forms: list[Sequence[JsonScalar]] = []
        payloads: list[Sequence[bytes]] = []
        try:
            for field, column in zip(self._fields, columns, strict=True):
                distinct = dict.fromkeys(column) if len(column) > 1 else None
                # str keys only: True == 1 would share one entry between a bool and an int
                if (
                    distinct is not None
                    and 2 * len(distinct) <= len(column)
                    and all(type(raw) is str for raw in distinct)
                ):
                    parsed = {raw: field.parse(raw) for raw in distinct}
                    forms.append([parsed[raw][0] for raw in column])
                    payloads.append([parsed[raw][1] for raw in column])
                else:
                    pairs = list(map(field.parse, column))
                    forms.append([form for form, _ in pairs])
                    payloads.append([payload for _, payload in pairs])
        except (MerkleTreeError, TypeError):  # TypeError: an unhashable field value
            return self._leaf_hashes_one_by_one(values)  # says which value and field
        stored: list[LeafValue] = list(zip(*forms, strict=True))
        if self._dynamic:
            encodings = [
                b"".join(self._with_tails(list(row))) for row in zip(*payloads, strict=True)
            ]
        else:
            encodings = list(map(b"".join, zip(*payloads, strict=True)))
        new_keccak = _new_keccak
        return stored, [new_keccak(new_keccak(e).digest()).digest() for e in encodings]

    def _leaf_hashes_one_by_one(
        self, values: Sequence[object]
    ) -> tuple[list[LeafValue], list[bytes]]:
        stored: list[LeafValue] = []
        hashes: list[bytes] = []
        for value_index, value in enumerate(values):
            try:
                form, encoded = self.encode(value)
            except MerkleTreeError as exc:
                raise MerkleTreeError(f"values[{value_index}]: {exc}") from None
            stored.append(form)
            hashes.append(_keccak256(_keccak256(encoded)))
        return stored, hashes

    def _with_tails(self, parts: list[bytes]) -> list[bytes]:
        # ABI head/tail layout: a dynamic field's head word is the byte offset (from the start of
        # the encoding) of its tail, and the tail is the length word plus the content padded to
        # a multiple of 32 bytes.  Static fields are their own 32-byte head word.
        heads: list[bytes] = []
        tails: list[bytes] = []
        offset = _WORD * len(parts)
        for field, payload in zip(self._fields, parts, strict=True):
            if field.dynamic:
                tail = len(payload).to_bytes(_WORD, "big") + payload + bytes(-len(payload) % _WORD)
                heads.append(offset.to_bytes(_WORD, "big"))
                tails.append(tail)
                offset += len(tail)
            else:
                heads.append(payload)
        return heads + tails

    def leaf_hash(self, value: object) -> bytes:
        return _keccak256(_keccak256(self.encode(value)[1]))


@lru_cache(maxsize=64)
def _codec(leaf_encoding: tuple[str, ...]) -> _LeafCodec:
    return _LeafCodec(leaf_encoding)


def _codec_for(leaf_encoding: object) -> _LeafCodec:
    if isinstance(leaf_encoding, list | tuple) and all(isinstance(t, str) for t in leaf_encoding):
        return _codec(tuple(leaf_encoding))
    return _LeafCodec(leaf_encoding)  # raises the precise error


# --------------------------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------------------------


def _parse_hash(raw: object, what: str) -> bytes:
    # Proofs and roots come from outside (auditors, APIs), so any hex case is accepted; the
    # bytes are what count.
    if isinstance(raw, bytes) and len(raw) == _WORD:
        return raw
    if isinstance(raw, str) and _PROOF_NODE_RE.fullmatch(raw) is not None:
        return bytes.fromhex(raw[2:])
    raise MerkleTreeError(f"{what} must be a 0x-prefixed 32-byte hex string, got {_short(raw)}")


def _parse_proof(proof: object) -> list[bytes]:
    # A bare string is a Sequence too; iterating it would silently check a nonsense proof.
    if isinstance(proof, str | bytes) or not isinstance(proof, Sequence):
        raise MerkleTreeError("a proof must be a list of 0x-prefixed 32-byte hex strings")
    return [_parse_hash(node, "proof node") for node in proof]


def _process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    node = leaf
    for sibling in proof:
        node = _node_hash(node, sibling)
    return node


def verify_proof(
    root: str | bytes,
    leaf_encoding: Sequence[str],
    value: Sequence[object],
    proof: Sequence[str | bytes],
) -> bool:
    """Check ``proof`` for ``value`` against a published ``root``; no tree needed.

    Returns False for a proof or value that does not lead to the root; raises
    :class:`MerkleTreeError` for malformed input (bad hex, a value the encoding rejects), as the
    JS library's ``StandardMerkleTree.verify`` throws for it.
    """
    expected = _parse_hash(root, "root")
    leaf = _codec_for(leaf_encoding).leaf_hash(value)
    return _process_proof(leaf, _parse_proof(proof)) == expected


# --------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------


def _fill_internal_nodes(tree: list[bytes], leaf_count: int) -> None:
    # Bottom-up over the array layout: every child index is larger than its parent's, so one
    # descending pass computes each internal node from finished children.
    # (_node_hash inlined: a million calls' frames are a third of the time)
    new_keccak = _new_keccak
    for i in range(leaf_count - 2, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = new_keccak(a + b if a <= b else b + a).digest()


def _reject_json_float(text: str) -> object:
    # Dumps never contain non-integral numbers; refuse them before they become floats.
    raise InvalidDumpError(f"dump contains a non-integer number: {_short(text)}")


_DUMP_KEYS: Final = frozenset({"format", "leafEncoding", "tree", "values"})
_ENTRY_KEYS: Final = frozenset({"value", "treeIndex"})


def _parse_dump_node(node: object, node_index: int) -> bytes:
    # Lowercase only: the JS library compares leaves and the root as strings, so it rejects
    # other spellings too.
    if not isinstance(node, str) or _NODE_RE.fullmatch(node) is None:
        raise InvalidDumpError(
            f"tree[{node_index}] is not a 0x-prefixed lowercase 32-byte hex string"
        )
    return bytes.fromhex(node[2:])


def _parse_dump_entry(entry: object, value_index: int, count: int) -> tuple[int, object]:
    """Return (treeIndex, raw value) of one ``values`` entry of a dump of ``count`` values."""
    if not isinstance(entry, Mapping) or set(entry) != _ENTRY_KEYS:
        raise InvalidDumpError(
            f"values[{value_index}] must be an object with exactly 'value' and 'treeIndex'"
        )
    tree_index = entry["treeIndex"]
    # Leaves occupy the last ``count`` slots of the ``2 * count - 1`` nodes.
    first_leaf, last_leaf = count - 1, 2 * count - 2
    if (
        not isinstance(tree_index, int)
        or isinstance(tree_index, bool)
        or not first_leaf <= tree_index <= last_leaf
    ):
        raise InvalidDumpError(
            f"values[{value_index}].treeIndex must be a leaf index in "
            f"[{first_leaf}, {last_leaf}], got {_short(tree_index)}"
        )
    return tree_index, entry["value"]


class StandardMerkleTree:
    """An OpenZeppelin StandardMerkleTree.  Build with :meth:`of`, restore with :meth:`load`.

    Immutable: values are validated and normalised once, at construction.
    """

    __slots__ = ("_codec", "_lookup", "_tree", "_tree_indices", "_values")

    def __init__(
        self,
        codec: _LeafCodec,
        tree: list[bytes],
        values: list[LeafValue],
        tree_indices: list[int],
    ) -> None:
        """Internal; the caller guarantees a consistent tree.  Use :meth:`of` or :meth:`load`."""
        self._codec = codec
        self._tree = tree
        self._values = values
        self._tree_indices = tree_indices
        # Leaf hash -> value index.  With duplicate leaves the last one wins, as in the JS
        # library (Object.fromEntries), so a proof "by value" matches the JS proof.
        self._lookup = {tree[ti]: vi for vi, ti in enumerate(tree_indices)}

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[object]],
        leaf_encoding: Sequence[str],
        *,
        sort_leaves: bool = True,
    ) -> Self:
        """Build a tree from leaf values (each a list with one entry per ``leaf_encoding`` type).

        ``sort_leaves=False`` keeps the input order for the leaves (JS option ``sortLeaves``);
        the default sorted layout is what on-chain multiproofs need.
        """
        codec = _codec_for(leaf_encoding)
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise MerkleTreeError("values must be a list of leaf values")
        count = len(values)
        if count == 0:
            raise MerkleTreeError("a Merkle tree needs at least one leaf")
        stored, hashes = codec.leaf_hashes(values)
        # Stable sort by hash, like Array.prototype.sort: equal leaves keep their input order.
        order = sorted(range(count), key=hashes.__getitem__) if sort_leaves else range(count)
        size = 2 * count - 1
        tree: list[bytes] = [b""] * size
        tree_indices = [0] * count
        for leaf_position, value_index in enumerate(order):
            tree_index = size - 1 - leaf_position  # leaves fill the array end, reversed
            tree[tree_index] = hashes[value_index]
            tree_indices[value_index] = tree_index
        _fill_internal_nodes(tree, count)
        return cls(codec, tree, stored, tree_indices)

    @classmethod
    def load(cls, data: Mapping[str, object]) -> Self:
        """Restore a tree from a standard-v1 dump (ours or the JS library's), checking everything.

        Raises :class:`InvalidDumpError` unless the dump is well formed and self-consistent:
        known format, supported encoding, valid values, every value's leaf hash equal to the node
        at its ``treeIndex``, every leaf used exactly once and every internal node correct.
        Stricter than the JS ``load``, which does not check the shape of ``values``.
        """
        try:
            return cls._load(data)
        except InvalidDumpError:
            raise
        except MerkleTreeError as exc:
            raise InvalidDumpError(f"invalid dump: {exc}") from None

    @classmethod
    def loads(cls, text: str | bytes) -> Self:
        """:meth:`load` from the JSON text of a dump."""
        try:
            data = json.loads(
                text, parse_float=_reject_json_float, parse_constant=_reject_json_float
            )
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            if isinstance(exc, InvalidDumpError):
                raise
            raise InvalidDumpError(f"dump is not valid JSON: {exc}") from None
        return cls.load(data)

    @classmethod
    def _load(cls, data: object) -> Self:
        if not isinstance(data, Mapping):
            raise InvalidDumpError("a dump must be a JSON object")
        if data.get("format") != FORMAT:
            raise InvalidDumpError(f"unknown dump format {_short(data.get('format'))}")
        keys = set(data)
        if keys != _DUMP_KEYS:
            missing, extra = sorted(_DUMP_KEYS - keys), sorted(map(str, keys - _DUMP_KEYS))
            raise InvalidDumpError(f"dump keys: missing {missing}, unexpected {extra}")
        codec = _codec_for(data["leafEncoding"])
        raw_tree, raw_values = data["tree"], data["values"]
        if not isinstance(raw_tree, list) or not isinstance(raw_values, list):
            raise InvalidDumpError("dump 'tree' and 'values' must be lists")
        count = len(raw_values)
        if count == 0 or len(raw_tree) != 2 * count - 1:
            raise InvalidDumpError(
                f"a tree of {count} values must have {2 * count - 1} nodes, got {len(raw_tree)}"
            )
        tree = [_parse_dump_node(node, node_index) for node_index, node in enumerate(raw_tree)]
        stored: list[LeafValue] = []
        tree_indices: list[int] = []
        seen: set[int] = set()
        for value_index, entry in enumerate(raw_values):
            tree_index, raw_value = _parse_dump_entry(entry, value_index, count)
            if tree_index in seen:
                raise InvalidDumpError(f"values[{value_index}] reuses treeIndex {tree_index}")
            seen.add(tree_index)
            try:
                json_form, encoded = codec.encode(raw_value)
            except MerkleTreeError as exc:
                raise InvalidDumpError(f"values[{value_index}]: {exc}") from None
            if _keccak256(_keccak256(encoded)) != tree[tree_index]:
                raise InvalidDumpError(
                    f"values[{value_index}] does not match its leaf tree[{tree_index}]"
                )
            stored.append(json_form)
            tree_indices.append(tree_index)
        # Leaves are now known to be exactly the value hashes; recompute every internal node.
        rebuilt = list(tree)
        _fill_internal_nodes(rebuilt, count)
        if rebuilt != tree:
            bad = next(i for i, (a, b) in enumerate(zip(rebuilt, tree, strict=True)) if a != b)
            raise InvalidDumpError(f"tree[{bad}] is not the hash of its children")
        return cls(codec, tree, stored, tree_indices)

    # -- queries ------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lowercase hex, the form the contracts and JS library use."""
        return "0x" + self._tree[0].hex()

    @property
    def leaf_encoding(self) -> tuple[str, ...]:
        return self._codec.types

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return (
            f"StandardMerkleTree(root={self.root}, leaves={len(self)}, "
            f"leaf_encoding={list(self.leaf_encoding)})"
        )

    def entries(self) -> Iterator[tuple[int, LeafValue]]:
        """(value index, stored value) in the order the values were given."""
        return iter(enumerate(self._values))

    def leaf_hash(self, value: Sequence[object]) -> bytes:
        """``keccak256(keccak256(abi.encode(leaf_encoding, value)))``; the value need not be in
        the tree."""
        return self._codec.leaf_hash(value)

    def _value_index(self, index_or_value: int | Sequence[object]) -> int:
        if isinstance(index_or_value, int) and not isinstance(index_or_value, bool):
            if not 0 <= index_or_value < len(self._values):
                raise MerkleTreeError(f"value index {index_or_value} is out of bounds")
            return index_or_value
        value_index = self._lookup.get(self._codec.leaf_hash(index_or_value))
        if value_index is None:
            raise MerkleTreeError("leaf is not in tree")
        return value_index

    def get_proof(self, index_or_value: int | Sequence[object]) -> list[str]:
        """Sibling hashes from the leaf up to the root, as 0x-prefixed lowercase hex.

        An int is an index into the values (input order), anything else a leaf value.
        """
        # No re-verification of the result (the JS library does one): the tree is immutable and
        # was checked node by node when built or loaded, so this is pure array reading.
        tree = self._tree
        node_index = self._tree_indices[self._value_index(index_or_value)]
        proof: list[str] = []
        while node_index > 0:
            # Odd indices are left children (sibling to the right), even ones right children.
            proof.append("0x" + tree[node_index + 1 if node_index % 2 else node_index - 1].hex())
            node_index = (node_index - 1) // 2
        return proof

    def get_multiproof(self, indices_or_values: Sequence[int | Sequence[object]]) -> MultiProof:
        """One OpenZeppelin multiproof for several leaves (JS ``getMultiProof``).

        ``leaves`` comes back in the order ``MerkleProof.multiProofVerify`` consumes them (tree
        index descending, i.e. leaf position ascending), which need not be the order given.
        """
        tree = self._tree
        indices = sorted(
            (self._tree_indices[self._value_index(v)] for v in indices_or_values), reverse=True
        )
        if any(a == b for a, b in itertools.pairwise(indices)):
            raise MerkleTreeError("cannot prove a leaf twice in one multiproof")
        stack = list(indices)
        proof: list[str] = []
        flags: list[bool] = []
        while stack and stack[0] > 0:
            j = stack.pop(0)
            sibling = j + 1 if j % 2 else j - 1
            if stack and stack[0] == sibling:
                flags.append(True)
                stack.pop(0)
            else:
                flags.append(False)
                proof.append("0x" + tree[sibling].hex())
            stack.append((j - 1) // 2)
        if not indices:
            proof.append("0x" + tree[0].hex())
        by_tree_index = {ti: vi for vi, ti in enumerate(self._tree_indices)}
        return MultiProof(
            leaves=[self._values[by_tree_index[i]] for i in indices], proof=proof, proof_flags=flags
        )

    def verify(self, index_or_value: int | Sequence[object], proof: Sequence[str | bytes]) -> bool:
        """Whether ``proof`` proves the value (or the value at an index) against this root."""
        if isinstance(index_or_value, int) and not isinstance(index_or_value, bool):
            leaf = self._tree[self._tree_indices[self._value_index(index_or_value)]]
        else:
            leaf = self._codec.leaf_hash(index_or_value)
        return _process_proof(leaf, _parse_proof(proof)) == self._tree[0]

    # -- serialisation ------------------------------------------------------------------------

    def dump(self) -> StandardV1Dump:
        """The standard-v1 dump (a fresh dict), with the JS library's key order."""
        return {
            "format": FORMAT,
            "leafEncoding": list(self._codec.types),
            "tree": ["0x" + node.hex() for node in self._tree],
            "values": [
                {"value": list(value), "treeIndex": tree_index}
                for value, tree_index in zip(self._values, self._tree_indices, strict=True)
            ],
        }

    def dumps(self) -> str:
        """The dump as text, identical to ``JSON.stringify(tree.dump())`` in JavaScript.

        Python's JSON string escaping with ``ensure_ascii=False`` matches ``JSON.stringify`` for
        every string a leaf can hold (lone surrogates, where they differ, are refused at input).
        Encode as UTF-8 when writing it out.
        """
        codec = self._codec
        if not codec.plain_json:
            return json.dumps(self.dump(), ensure_ascii=False, separators=(",", ":"))
        # Fast path, the same text: no node or value needs escaping, so the text is one
        # printf-style template filled in a single C-level pass, instead of a dict per value for
        # json.dumps (several times slower).  All nodes are hexed in one call, with a "," between
        # 32-byte nodes (bytes.hex's separator), and each "," becomes the '","0x' between two JSON
        # strings.  Stored values of plain JSON types are all str, so "%s" writes them verbatim.
        nodes = b"".join(self._tree).hex(",", _WORD).replace(",", '","0x')
        fields = ",".join(['"%s"'] * len(codec.types))
        entry = f'{{"value":[{fields}],"treeIndex":%d}}'
        template = "".join(
            (
                f'{{"format":"{FORMAT}",',
                f'"leafEncoding":{json.dumps(list(codec.types), separators=(",", ":"))},',
                '"tree":["0x%s"],',
                '"values":[',
                ",".join(itertools.repeat(entry, len(self._values))),
                "]}",
            )
        )
        # (nodes, value 0 field 0, ..., value 0 treeIndex, value 1 field 0, ...)
        flatten = itertools.chain.from_iterable
        per_value = zip(self._values, zip(self._tree_indices, strict=True), strict=True)
        return template % (nodes, *flatten(flatten(per_value)))
