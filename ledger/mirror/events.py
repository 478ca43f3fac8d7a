"""The events the mirror follows, and a decoder for their raw logs.

Decoding runs once per log on the mirror's hot path, so it does not go through web3's per-log ABI
machinery: topic0 of every followed event is computed once from the compiled ABIs, and for events
with only static argument types (address, bytes32, uintN) indexed arguments are the topics
themselves and the others are consecutive 32-byte words of `data`. The one event with arrays
(`EpochProposed`, not a hot path) is decoded with eth_abi.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from Crypto.Hash import keccak
from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address

from ledger.chain.artifacts import event_topic, load_artifact
from ledger.chain.client import Deployment
from ledger.kit.errors import ChainStateMismatch
from ledger.kit.types import Bytes32Hex, ChecksumAddress

# The LabelLedger's events the mirror applies (its LABEL `Transfer` included), and the payment
# tokens' ones.
LEDGER_EVENTS = (
    "Transfer",
    "TokenListed",
    "FeesWithdrawn",
    "DatasetCreated",
    "DatasetFunded",
    "DatasetCloseRequested",
    "DatasetClosed",
    "EpochProposed",
    "EpochAccepted",
    "EpochRevoked",
    "Claimed",
)
TOKEN_EVENTS = ("Transfer",)

_STATIC_TYPES = frozenset({"address", "bytes32", "uint256", "uint64", "uint16", "uint8"})
_DYNAMIC_TYPES = frozenset({"uint256[]"})
_UINT_BITS = {"uint8": 8, "uint16": 16, "uint64": 64, "uint256": 256}

ArgValue = int | str | list[int]


class LogDecodeError(ChainStateMismatch):
    """A log from one of our contracts does not have the shape its ABI promises."""

    code = "log_decode_error"


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event's layout: which arguments sit in topics[1:], which in the data words."""

    name: str
    topic0: str  # 0x + 64 lowercase hex, as nodes return it
    indexed: tuple[tuple[str, str], ...]  # (argument name, ABI type)
    data: tuple[tuple[str, str], ...]
    dynamic: bool  # `data` holds an array: decode it with eth_abi

    @classmethod
    def from_abi(cls, abi: list[dict[str, Any]], name: str) -> EventSpec:
        item = next(i for i in abi if i["type"] == "event" and i["name"] == name)
        for param in item["inputs"]:
            kind = param["type"]
            if kind not in _STATIC_TYPES and (param["indexed"] or kind not in _DYNAMIC_TYPES):
                # an unusual type would need more decoding than we do: refuse at startup
                raise TypeError(f"{name}.{param['name']} has type {kind}, not decoded")
        return cls(
            name=name,
            topic0="0x" + event_topic(abi, name).hex(),
            indexed=tuple((p["name"], p["type"]) for p in item["inputs"] if p["indexed"]),
            data=tuple((p["name"], p["type"]) for p in item["inputs"] if not p["indexed"]),
            dynamic=any(p["type"] in _DYNAMIC_TYPES for p in item["inputs"]),
        )


@dataclass(slots=True)
class DecodedLog:
    """One applied-or-to-apply log: where it sits on chain and what it says. (Not frozen: a
    frozen dataclass sets each field through object.__setattr__, which shows at 100k logs.)"""

    event: str
    address: ChecksumAddress
    block_number: int
    block_hash: Bytes32Hex
    tx_hash: Bytes32Hex
    log_index: int
    args: dict[str, ArgValue]


@lru_cache(maxsize=65536)
def _checksummed(lower_hex: str) -> ChecksumAddress:
    """EIP-55 for a 0x + 40 lowercase hex address, hashing with pycryptodome directly (eth_utils
    takes ~10x longer per address, which shows on a backfill that meets thousands of holders).
    The same few accounts recur in almost every chunk, hence the cache."""
    body = lower_hex[2:]
    if len(body) != 40 or body != body.lower():
        return ChecksumAddress(to_checksum_address(lower_hex))
    digest = keccak.new(digest_bits=256, data=body.encode("ascii")).hexdigest()
    return ChecksumAddress(
        "0x"
        + "".join(
            c.upper() if d in "89abcdef" else c for c, d in zip(body, digest[:40], strict=True)
        )
    )


_HIGH_ZEROS = "0" * 24


def _word_value(word: str, kind: str, spec: EventSpec, log: Mapping[str, Any]) -> ArgValue:
    """One 32-byte word, given as its 64 hex digits, as the ABI type says."""
    if kind == "address":
        if not word.startswith(_HIGH_ZEROS):
            raise LogDecodeError(f"{_where(spec, log)}: address word 0x{word} has high bytes set")
        return _checksummed("0x" + word[24:])
    if kind == "bytes32":
        return Bytes32Hex("0x" + word.lower())
    value = int(word, 16)
    if value >> _UINT_BITS[kind]:
        raise LogDecodeError(f"{_where(spec, log)}: {value} does not fit {kind}")
    return value


def _digits(value: str | bytes) -> str:
    """Hex text (0x-prefixed or not) or bytes as lowercase hex digits without 0x."""
    if isinstance(value, str):
        return value.removeprefix("0x").lower()
    return bytes(value).hex()


def _as_int(value: str | int) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _as_hex32(value: str | bytes) -> Bytes32Hex:
    if isinstance(value, str):
        return Bytes32Hex(value.lower())
    return Bytes32Hex("0x" + bytes(value).hex())


class EventDecoder:
    """Decodes the logs of one deployment's contracts; knows which address emits which event.

    Events are matched by (emitting address, topic0), so a `Transfer` is only a token transfer
    when one of our tokens emitted it, and a look-alike event from another contract is ignored.
    """

    def __init__(self, deployment: Deployment) -> None:
        ledger_abi = load_artifact("LabelLedger").abi
        erc20_abi = load_artifact("IERC20").abi

        ledger = {s.topic0: s for s in (EventSpec.from_abi(ledger_abi, e) for e in LEDGER_EVENTS)}
        token = {s.topic0: s for s in (EventSpec.from_abi(erc20_abi, e) for e in TOKEN_EVENTS)}

        by_address: dict[str, dict[str, EventSpec]] = {deployment.ledger.lower(): ledger}
        for address in deployment.payment_token_addresses:
            by_address[address.lower()] = token
        self._by_address = by_address

    @property
    def addresses(self) -> list[ChecksumAddress]:
        """Every contract whose logs the mirror asks for."""
        return [_checksummed(a) for a in self._by_address]

    @property
    def topics(self) -> list[str]:
        """topic0 of every followed event: the eth_getLogs filter, so nodes skip the rest."""
        return sorted({t for specs in self._by_address.values() for t in specs})

    def decode(self, log: Mapping[str, Any]) -> DecodedLog | None:
        """Decodes one eth_getLogs entry (hex strings as nodes send them, or bytes and ints).

        Returns None for a log of ours that the mirror does not follow (an Approval, say).
        Works on hex text throughout: an address is the last 40 digits of its word, a uint the
        word read in base 16, so no log is turned into bytes and back.
        """
        address = str(log["address"]).lower()
        specs = self._by_address.get(address)
        topics: Sequence[str | bytes] = log["topics"]
        if specs is None or not topics:
            return None
        spec = specs.get(_as_hex32(topics[0]))
        if spec is None:
            return None

        if len(topics) != 1 + len(spec.indexed):
            raise LogDecodeError(
                f"{_where(spec, log)}: {len(topics)} topics, expected {1 + len(spec.indexed)}"
            )
        data = _digits(log["data"])
        if not spec.dynamic and len(data) != 64 * len(spec.data):
            raise LogDecodeError(
                f"{_where(spec, log)}: {len(data) // 2} data bytes, expected {32 * len(spec.data)}"
            )

        args: dict[str, ArgValue] = {}
        word_value = _word_value
        for (name, kind), topic in zip(spec.indexed, topics[1:], strict=True):
            # a node's topic is "0x" + 64 lowercase digits: slice it; anything else is normalised
            word = topic[2:] if type(topic) is str and topic[1:2] == "x" else _digits(topic)
            args[name] = word_value(word, kind, spec, log)
        if spec.dynamic:
            args.update(_decode_dynamic(spec, bytes.fromhex(data), _where(spec, log)))
        else:
            for i, (name, kind) in enumerate(spec.data):
                args[name] = word_value(data[64 * i : 64 * (i + 1)], kind, spec, log)

        number, index = log["blockNumber"], log["logIndex"]
        return DecodedLog(
            spec.name,
            _checksummed(address),
            int(number, 16) if type(number) is str else int(number),
            _as_hex32(log["blockHash"]),
            _as_hex32(log["transactionHash"]),
            int(index, 16) if type(index) is str else int(index),
            args,
        )


def _where(spec: EventSpec, log: Mapping[str, Any]) -> str:
    return f"{spec.name} in tx {_as_hex32(log['transactionHash'])}"


def _decode_dynamic(spec: EventSpec, data: bytes, where: str) -> dict[str, ArgValue]:
    try:
        values = abi_decode([kind for _, kind in spec.data], data, strict=True)
    except (DecodingError, ValueError) as exc:
        raise LogDecodeError(f"{where}: data does not decode: {exc}") from exc
    args: dict[str, ArgValue] = {}
    for (name, kind), value in zip(spec.data, values, strict=True):
        if kind in _DYNAMIC_TYPES:
            args[name] = [int(v) for v in value]
        elif kind == "bytes32":
            args[name] = Bytes32Hex("0x" + bytes(value).hex())
        elif kind == "address":
            args[name] = _checksummed(str(value).lower())
        else:
            args[name] = int(value)
    return args
