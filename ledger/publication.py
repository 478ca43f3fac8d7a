"""What every epoch publishes, so anyone can check it against the chain without our database.

A publication is a directory (or the same layout under a base URL) that can be copied anywhere:

    index.json                 which epochs and datasets it holds
    epochs/<n>/manifest.json   keccak256 of these exact bytes is the epoch's content hash
    epochs/<n>/payout-tree.json  OpenZeppelin standard-v1 dump; its root is the payout root
    epochs/<n>/label-tree.json   standard-v1 dump of every label the epoch paid
    epochs/<n>/verdicts.json   how each of those labels was verified; the gold rejections
    datasets/<id>/terms.json   keccak256 of these bytes is the salt the buyer created it with
    datasets/<id>/gold.json    the gold answers' hashes, revealed once the dataset is closed

`<id>` is the ledger's dataset id as 0x + 64 hex. Nothing in it holds a buyer's item data or an
annotator's label content, and no hash in it can be reversed by trying the few label classes:

- an item is `keccak256(itemKey ++ item id)`, `itemKey` a random secret of the dataset that its
  buyer holds, so nobody else can tell which item a leaf is about (nor which items are gold);
- a label is `keccak256(salt ++ value)`, `salt` random per label, held by its annotator and the
  buyer it was delivered to;
- a gold answer, and the label graded against it, are `keccak256(goldKey ++ itemHash ++ value)`,
  `goldKey` the random secret of the gold document, revealed with it when the dataset closes; only
  then can anyone compare a graded label with the committed answer.

The buyer commits to the dataset's terms on chain: `createAndFund(salt, ...)` with
salt = keccak256(terms.json), so the price, the reward and the gold answers' commitment are fixed
by the buyer's own transaction before any work is done, and `DatasetCreated` carries the salt.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from ledger.kit.types import bytes32_hex
from ledger.merkle import StandardMerkleTree, keccak256

PUBLICATION_FORMAT = "label-ledger-publication-v1"
MANIFEST_FORMAT = "label-ledger-epoch-v2"
VERDICTS_FORMAT = "label-ledger-verdicts-v1"
TERMS_FORMAT = "label-ledger-terms-v2"
GOLD_FORMAT = "label-ledger-gold-v1"

#: One payout leaf per (annotator, payment token index): `(account, token, cumulativePayment,
#: cumulativeReward)`, as the ledger's `claim` and `claimMany` hash it.
PAYOUT_LEAF_ENCODING = ("address", "uint16", "uint256", "uint256")
#: One label leaf per label an epoch pays: `(datasetId, itemIdHash, annotator, labelHash, method,
#: payment, reward)`: the ledger's uint256 dataset id, keccak256 of the UTF-8 bytes of the buyer's
#: item id, the annotator, keccak256 of the UTF-8 bytes of the label's value, the verification
#: method's code (`METHOD_CODES`), and what the label earns in the dataset's payment token and in
#: LABEL (6 decimals) base units. Leaves are sorted (standard-v1 default).
LABEL_LEAF_ENCODING = ("uint256", "bytes32", "address", "bytes32", "uint8", "uint256", "uint256")
#: Verification methods as label leaves carry them. An appeal is a rejection overturned by an
#: upheld dispute: it is paid even where its item's places went to others meanwhile, so it does
#: not count against the overlap the terms commit to.
METHOD_CODES: dict[str, int] = {"review": 1, "gold": 2, "consensus": 3, "auto": 4, "appeal": 5}
METHOD_NAMES: dict[int, str] = {code: name for name, code in METHOD_CODES.items()}

MANIFEST = "manifest.json"
PAYOUT_TREE = "payout-tree.json"
LABEL_TREE = "label-tree.json"
VERDICTS = "verdicts.json"
TERMS = "terms.json"
GOLD = "gold.json"
INDEX = "index.json"


def canonical_json(document: object) -> str:
    """Sorted keys, no spaces, ASCII only: one byte string per document, so one hash."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def keccak_hex(data: str | bytes) -> str:
    """keccak256 of a text's UTF-8 bytes (or of bytes), as 0x + 64 hex."""
    return bytes32_hex(keccak(data.encode() if isinstance(data, str) else data))


def random_nonce() -> str:
    return bytes32_hex(secrets.token_bytes(32))


def salted_hash(key: str, *parts: str) -> str:
    """keccak256(key ++ parts...): `key` and 0x-hex parts as their bytes, text as UTF-8."""
    data = bytes.fromhex(key.removeprefix("0x"))
    for part in parts:
        is_hex = part.startswith("0x") and len(part) == 66
        data += bytes.fromhex(part[2:]) if is_hex else part.encode()
    return "0x" + keccak256(data).hex()


def item_id_hash(item_key: str, external_id: str) -> str:
    """How the publication names an item: keccak256(itemKey ++ UTF-8 of the buyer's item id)."""
    return salted_hash(item_key, external_id)


def label_hash(salt: str, value: str) -> str:
    """How the publication names a label's value: keccak256(salt ++ UTF-8 of the value)."""
    return salted_hash(salt, value)


def graded_hash(gold_key: str, item_hash: str, value: str) -> str:
    """A gold answer, or a label graded against one: keccak256(goldKey ++ itemHash ++ value)."""
    return salted_hash(gold_key, item_hash, value)


# --- dataset terms and gold answers ---------------------------------------------------------


def gold_document(gold_key: str, answers: Iterable[tuple[str, str]]) -> str:
    """The gold answers a buyer commits to: [itemHash, graded_hash(goldKey, itemHash, answer)]
    per gold item, sorted, with `(item hash, answer)` pairs given. The commitment is its keccak256;
    the document, `goldKey` included, is revealed when the dataset closes."""
    pairs = sorted([item, graded_hash(gold_key, item, answer)] for item, answer in answers)
    return canonical_json({"format": GOLD_FORMAT, "key": gold_key, "answers": pairs})


def instructions_hash(markdown: str, examples: Sequence[Mapping[str, Any]]) -> str:
    """A version of a dataset's instructions, as the terms commit to it: keccak256 of the
    canonical JSON of {"markdown", "examples"}."""
    return keccak_hex(canonical_json({"markdown": markdown, "examples": list(examples)}))


def terms_document(
    *,
    buyer: str,
    payment_token: str,
    price_per_label: int,
    reward_per_label: int,
    label_schema: Mapping[str, Any],
    verification: Mapping[str, Any],
    instructions_hash: str,
    gold_commitment: str | None,
    nonce: str,
) -> str:
    """A dataset's terms: keccak256 of these bytes is the salt its buyer creates it with.
    `verification` is how its labels are verified and how many each item takes (method,
    `overlap` under review, consensus k and cap, `gold_overlap`, the review window after which
    an undecided label is accepted, how long gold verdicts stay sealed); `instructionsHash` is
    the first version of the instructions annotators work by (`instructions_hash`)."""
    return canonical_json(
        {
            "format": TERMS_FORMAT,
            "buyer": buyer,
            "paymentToken": payment_token,
            "pricePerLabel": str(price_per_label),
            "rewardPerLabel": str(reward_per_label),
            "labelSchemaHash": keccak_hex(canonical_json(label_schema)),
            "verification": verification,
            "instructionsHash": instructions_hash,
            "goldCommitment": gold_commitment,
            "nonce": nonce,
        }
    )


# --- one epoch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaidLabel:
    """One label an epoch pays. `evidence` is the reviewer's address for a review, the hash of
    the committed gold answer for gold; `graded` (gold only) the label's value hashed as an
    answer (`graded_hash`), equal to `evidence` when it was right."""

    dataset_id: str  # 0x + 64 hex
    item_id_hash: str
    annotator: str
    label_hash: str
    method: str
    payment: int
    reward: int
    evidence: str | None
    graded: str | None = None

    def leaf(self) -> list[str]:
        return [
            str(int(self.dataset_id, 16)),
            self.item_id_hash,
            self.annotator,
            self.label_hash,
            str(METHOD_CODES[self.method]),
            str(self.payment),
            str(self.reward),
        ]


@dataclass(frozen=True)
class GoldRejection:
    """A label rejected because it differs from the gold answer for its item: `answer_hash` the
    answer it was graded against, `graded` its own value hashed the same way."""

    dataset_id: str
    item_id_hash: str
    annotator: str
    label_hash: str
    answer_hash: str
    graded: str


@dataclass(frozen=True)
class DatasetDebit:
    """What an epoch takes from one dataset's escrow, and the terms it paid under."""

    dataset_id: str
    token: int
    fee_bps: int
    debit: int
    fee: int
    labels: int
    terms_hash: str  # = the salt on chain


@dataclass(frozen=True)
class EpochFiles:
    number: int
    manifest: str
    payout_tree: str
    label_tree: str
    verdicts: str
    payout_root: str
    label_root: str

    @property
    def content_hash(self) -> str:
        return keccak_hex(self.manifest)


def _paid_row(p: PaidLabel) -> tuple[str | None, ...]:
    return (p.dataset_id, p.item_id_hash, p.annotator, p.label_hash, p.method, p.evidence, p.graded)


def build_epoch_files(
    *,
    chain_id: int,
    ledger: str,
    number: int,
    payout_leaves: Sequence[list[str]],
    paid: Sequence[PaidLabel],
    gold_rejections: Sequence[GoldRejection],
    debits: Sequence[DatasetDebit],
    previous_payout_root: str | None = None,
) -> EpochFiles:
    """The four files of epoch `number`. `payout_leaves` are the cumulative entitlements after it,
    in the order they go into the tree (account, then token); they build on the previous epoch's
    (`previous_payout_root`, None for the first)."""
    return build_epoch_files_from_leaves(
        chain_id=chain_id,
        ledger=ledger,
        number=number,
        payout_leaves=payout_leaves,
        label_leaves=[p.leaf() for p in paid],
        verdict_rows=[_paid_row(p) for p in paid],
        gold_rejections=gold_rejections,
        debits=debits,
        previous_payout_root=previous_payout_root,
    )


def build_epoch_files_from_leaves(
    *,
    chain_id: int,
    ledger: str,
    number: int,
    payout_leaves: Sequence[Sequence[str]],
    label_leaves: Sequence[Sequence[str]],
    verdict_rows: Sequence[Sequence[str | None]],
    gold_rejections: Sequence[GoldRejection],
    debits: Sequence[DatasetDebit],
    previous_payout_root: str | None = None,
    label_tree_ready: Callable[[str], None] | None = None,
) -> EpochFiles:
    """`build_epoch_files` from each paid label's leaf (`PaidLabel.leaf`) and verdict row
    (dataset, item, annotator, label hash, method, evidence, graded), in the order paid: what a
    settlement of a million labels computes without a `PaidLabel` each. `label_tree_ready` is
    given the label tree's dump as soon as it is made (the largest file: a caller may start
    storing it while the rest is made)."""
    payout_tree = StandardMerkleTree.of(payout_leaves, PAYOUT_LEAF_ENCODING, sort_leaves=False)
    label_tree = StandardMerkleTree.of(label_leaves, LABEL_LEAF_ENCODING)
    label_dump = label_tree.dumps()
    if label_tree_ready is not None:
        label_tree_ready(label_dump)
    verdicts = _verdicts_document(
        number,
        verdict_rows,
        [
            (r.dataset_id, r.item_id_hash, r.annotator, r.label_hash, r.answer_hash, r.graded)
            for r in gold_rejections
        ],
    )
    payout_dump = payout_tree.dumps()
    manifest = canonical_json(
        {
            "format": MANIFEST_FORMAT,
            "chainId": chain_id,
            "ledger": ledger,
            "epoch": number,
            "payoutRoot": payout_tree.root,
            "labelRoot": label_tree.root,
            "payoutLeafEncoding": list(PAYOUT_LEAF_ENCODING),
            "labelLeafEncoding": list(LABEL_LEAF_ENCODING),
            "methods": {str(code): name for code, name in METHOD_NAMES.items()},
            "previousPayoutRoot": previous_payout_root,
            "labelCount": len(label_leaves),
            "goldRejectedCount": len(gold_rejections),
            "datasets": [
                {
                    "datasetId": d.dataset_id,
                    "token": d.token,
                    "feeBps": d.fee_bps,
                    "debit": str(d.debit),
                    "fee": str(d.fee),
                    "labels": d.labels,
                    "termsHash": d.terms_hash,
                }
                for d in sorted(debits, key=lambda d: d.dataset_id)
            ],
            "files": {
                PAYOUT_TREE: _text_keccak_hex(payout_dump),
                LABEL_TREE: _text_keccak_hex(label_dump),
                VERDICTS: _text_keccak_hex(verdicts),
            },
        }
    )
    return EpochFiles(
        number=number,
        manifest=manifest,
        payout_tree=payout_dump,
        label_tree=label_dump,
        verdicts=verdicts,
        payout_root=payout_tree.root,
        label_root=label_tree.root,
    )


def _text_keccak_hex(text: str) -> str:
    """`keccak_hex` of a (large) text, through the faster keccak of `ledger.merkle`."""
    return "0x" + keccak256(text.encode()).hex()


def _verdicts_document(
    number: int,
    paid_rows: Sequence[Sequence[str | None]],
    rejected_rows: Sequence[Sequence[str]],
) -> str:
    """verdicts.json: the paid labels' and the gold rejections' rows, each list sorted."""
    return canonical_json(
        {
            "format": VERDICTS_FORMAT,
            "epoch": number,
            "paid": sorted(paid_rows),  # type: ignore[type-var]
            "goldRejected": sorted(tuple(row) for row in rejected_rows),
        }
    )


# --- the directory ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetFiles:
    dataset_id: str
    terms: str
    gold: str | None  # only once revealed


def _write(path: Path, text: str) -> None:
    """Atomically: a reader (or a crash) never sees half a file. The temporary name is this
    writer's own (pid and random), so two writers of one file never write into each other's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_publication(
    directory: Path,
    *,
    chain_id: int,
    ledger: str,
    epochs: Iterable[EpochFiles],
    datasets: Iterable[DatasetFiles],
    indexed_epochs: Iterable[int] = (),
) -> Path:
    """Writes (or rewrites: every file is a function of what was settled) a publication. The
    index lists `epochs` and `indexed_epochs`: epochs written before need not be passed again."""
    numbers: list[int] = list(indexed_epochs)
    for epoch in epochs:
        folder = directory / "epochs" / str(epoch.number)
        numbers.append(epoch.number)
        manifest = folder / MANIFEST
        if manifest.exists() and manifest.read_text(encoding="utf-8") == epoch.manifest:
            continue  # written before (the manifest goes last); an epoch's files never change
        _write(folder / PAYOUT_TREE, epoch.payout_tree)
        _write(folder / LABEL_TREE, epoch.label_tree)
        _write(folder / VERDICTS, epoch.verdicts)
        _write(manifest, epoch.manifest)
    ids: list[str] = []
    for dataset in datasets:
        folder = directory / "datasets" / dataset.dataset_id
        _write(folder / TERMS, dataset.terms)
        if dataset.gold is not None:
            _write(folder / GOLD, dataset.gold)
        ids.append(dataset.dataset_id)
    _write(
        directory / INDEX,
        index_document(chain_id=chain_id, ledger=ledger, epochs=set(numbers), datasets=ids),
    )
    return directory


def index_document(
    *, chain_id: int, ledger: str, epochs: Iterable[int], datasets: Iterable[str]
) -> str:
    """index.json: which epochs and datasets a publication holds."""
    index = {
        "format": PUBLICATION_FORMAT,
        "chainId": chain_id,
        "ledger": ledger,
        "epochs": sorted(epochs),
        "datasets": sorted(datasets),
    }
    return json.dumps(index, indent=1) + "\n"
