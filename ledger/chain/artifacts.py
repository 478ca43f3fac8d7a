"""The compiled contracts, read from Hardhat's artifacts: the one source of every ABI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from ledger.kit.errors import LedgerError

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Contract name -> source file under contracts/
SOURCES = {
    "LabelLedger": "LabelLedger.sol",
    "DevStablecoin": "dev/DevStablecoin.sol",
    "IERC20": "@openzeppelin/contracts/token/ERC20/IERC20.sol",
}


class ArtifactsMissing(LedgerError, FileNotFoundError):
    code = "artifacts_missing"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str


def artifacts_dir() -> Path:
    return Path(os.environ.get("LABEL_LEDGER_ARTIFACTS", PROJECT_ROOT / "artifacts"))


@cache
def load_artifact(name: str) -> Artifact:
    source = SOURCES[name]
    base = artifacts_dir() / (source if source.startswith("@") else f"contracts/{source}")
    path = base / f"{name}.json"
    if not path.exists():
        raise ArtifactsMissing(
            f"compiled contract {path} not found: run `npx hardhat compile` "
            "(or ./scripts/setup) in the repository first"
        )
    data = json.loads(path.read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"])


def _signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_canonical_type(i) for i in item['inputs'])})"


def _canonical_type(param: dict[str, Any]) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@cache
def error_selectors() -> dict[bytes, tuple[str, list[dict[str, Any]]]]:
    """4-byte selector -> (error name, inputs), over every contract we deploy."""
    table: dict[bytes, tuple[str, list[dict[str, Any]]]] = {}
    for name in ("LabelLedger", "DevStablecoin"):
        for item in load_artifact(name).abi:
            if item["type"] == "error":
                table[keccak(text=_signature(item))[:4]] = (item["name"], item["inputs"])
    return table


def event_topic(abi: list[dict[str, Any]], event: str) -> bytes:
    for item in abi:
        if item["type"] == "event" and item["name"] == event:
            return keccak(text=_signature(item))
    raise KeyError(event)
