"""The publication's files as the audit reads them: an epoch's manifest, trees and verdicts
(`EpochFiles`), a dataset's terms (`Terms`) and its revealed gold answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.audit.offline.encoding import BPS, hash_hex, hex32
from ledger.audit.offline.report import Row
from ledger.publication import GOLD_FORMAT, MANIFEST_FORMAT, TERMS_FORMAT

#: What a terms-v2 `verification` object means when it leaves a field out: the service's
#: defaults (`VerificationSpec` in ledger/dataset/schemas.py; a unit test holds them equal).
DEFAULT_METHOD: Final = "review"
DEFAULT_PLACES: Final = {"overlap": 1, "gold_overlap": 10, "consensus_k": 3, "consensus_max_k": 5}


@dataclass(frozen=True)
class ManifestDebit:
    dataset_id: int
    token: int
    fee_bps: int
    debit: int
    fee: int
    labels: int
    terms_hash: str


@dataclass
class Manifest:
    chain_id: int
    ledger: str
    epoch: int
    payout_root: str
    label_root: str
    payout_encoding: list[str]
    label_encoding: list[str]
    methods: dict[str, str]
    label_count: int
    gold_rejected_count: int
    datasets: list[ManifestDebit]
    files: dict[str, str]
    previous_payout_root: str | None

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        doc = json.loads(data)
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {MANIFEST_FORMAT}")
        return cls(
            chain_id=int(doc["chainId"]),
            ledger=str(doc["ledger"]),
            epoch=int(doc["epoch"]),
            payout_root=hex32(doc["payoutRoot"]),
            label_root=hex32(doc["labelRoot"]),
            payout_encoding=[str(t) for t in doc["payoutLeafEncoding"]],
            label_encoding=[str(t) for t in doc["labelLeafEncoding"]],
            methods={str(k): str(v) for k, v in doc["methods"].items()},
            label_count=int(doc["labelCount"]),
            gold_rejected_count=int(doc["goldRejectedCount"]),
            datasets=[
                ManifestDebit(
                    dataset_id=int(d["datasetId"], 16),
                    token=int(d["token"]),
                    fee_bps=int(d["feeBps"]),
                    debit=int(d["debit"]),
                    fee=int(d["fee"]),
                    labels=int(d["labels"]),
                    terms_hash=hex32(d["termsHash"]),
                )
                for d in doc["datasets"]
            ],
            files={str(k): hex32(v) for k, v in doc["files"].items()},
            previous_payout_root=(
                None if doc["previousPayoutRoot"] is None else hex32(doc["previousPayoutRoot"])
            ),
        )


#: (datasetId, itemIdHash, annotator (lowercase), labelHash, method code, payment, reward)
LabelLeaf = tuple[int, str, str, str, int, int, int]
#: (datasetId, itemIdHash, annotator (lowercase), labelHash)
LabelKey = tuple[int, str, str, str]
#: (datasetId, itemIdHash)
ItemKey = tuple[int, str]


@dataclass
class Verdicts:
    # -> [(method, evidence, graded)]: for gold, the answer hash and the label's graded hash
    paid: dict[LabelKey, list[tuple[str, str | None, str | None]]]
    rejected: list[tuple[LabelKey, str, str]]  # (key, answer hash, graded hash)
    count_paid: int


@dataclass
class EpochFiles:
    """One published epoch as loaded; a part is None when missing or unusable (see `problems`)."""

    number: int
    manifest_bytes: bytes | None = None
    manifest: Manifest | None = None
    payout: dict[tuple[str, int], tuple[int, int]] | None = None  # (account, token) -> cumul.
    payout_root: str | None = None
    labels: list[LabelLeaf] | None = None
    label_root: str | None = None
    verdicts: Verdicts | None = None
    problems: list[Row] = field(default_factory=list)  # for `dumps`
    manifest_problem: str | None = None  # for `commitments`


@dataclass
class Terms:
    raw_hash: str
    buyer: str
    payment_token: str
    price: int
    reward: int
    gold_commitment: str | None
    # the reputation tiers' reward multipliers the terms allow (only 1x without tiers)
    multipliers_bps: tuple[int, ...] = (BPS,)
    # how many labels an item is paid (appeals aside): `overlap` under review, k and up to
    # `consensus_max_k` under consensus, `gold_overlap` for a gold item whatever the method
    method: str = DEFAULT_METHOD
    overlap: int = DEFAULT_PLACES["overlap"]
    consensus_k: int = DEFAULT_PLACES["consensus_k"]
    consensus_max_k: int = DEFAULT_PLACES["consensus_max_k"]
    gold_overlap: int = DEFAULT_PLACES["gold_overlap"]

    @property
    def rewards(self) -> set[int]:
        """Every reward a label of this dataset may carry."""
        return {self.reward * m // BPS for m in self.multipliers_bps}

    def allowance(self, *, gold: bool) -> tuple[int, str]:
        """The most labels one item is paid, appeals aside, and the term that says so (as
        `VerificationSpec.max_places` fills the item's places)."""
        if gold:
            return self.gold_overlap, "gold_overlap, for a gold item"
        if self.method == "consensus":
            return self.consensus_max_k, "consensus_max_k, under consensus"
        return self.overlap, "overlap, under review"

    @classmethod
    def parse(cls, data: bytes) -> Terms:
        doc = json.loads(data)
        if doc.get("format") != TERMS_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {TERMS_FORMAT}")
        commitment = doc.get("goldCommitment")
        verification = doc["verification"]
        if not isinstance(verification, dict):
            raise ValueError(f"verification {verification!r} is not an object")
        method = verification.get("method", DEFAULT_METHOD)
        if method not in ("review", "consensus"):
            raise ValueError(f"verification method {method!r} is neither review nor consensus")
        multipliers = verification.get("reward_multipliers_bps", [BPS])
        return cls(
            raw_hash=hash_hex(data),
            buyer=str(doc["buyer"]),
            payment_token=str(doc["paymentToken"]),
            price=int(doc["pricePerLabel"]),
            reward=int(doc["rewardPerLabel"]),
            gold_commitment=None if commitment is None else hex32(commitment),
            multipliers_bps=tuple(int(m) for m in multipliers),
            method=method,
            overlap=_places(verification, "overlap"),
            consensus_k=_places(verification, "consensus_k"),
            consensus_max_k=_places(verification, "consensus_max_k"),
            gold_overlap=_places(verification, "gold_overlap"),
        )


def _places(verification: Mapping[str, Any], name: str) -> int:
    """A count of labels from the terms' verification, its default when left out."""
    value = verification.get(name, DEFAULT_PLACES[name])
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"verification {name} {value!r} is not a positive integer")
    return value


def gold_answers(raw: bytes) -> dict[str, str]:
    """A revealed gold.json's answers: item hash -> answer hash."""
    doc = json.loads(raw)
    if doc.get("format") != GOLD_FORMAT:
        raise ValueError(f"format {doc.get('format')!r}")
    return {str(i).lower(): str(a).lower() for i, a in doc["answers"]}
