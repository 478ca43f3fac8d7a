"""The publication as the audit reads it: `index.json`, each epoch's manifest, Merkle dumps and
verdicts (`EpochFiles`, with what did not load in its `problems`), each dataset's terms and
revealed gold answers."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass

from ledger.audit.offline.documents import (
    EpochFiles,
    LabelKey,
    Manifest,
    Terms,
    Verdicts,
)
from ledger.audit.offline.encoding import hash_hex, id_hex
from ledger.audit.offline.report import Progress, Row
from ledger.audit.offline.source import AuditInputError, Source
from ledger.chain.client import Deployment
from ledger.merkle import InvalidDumpError, StandardMerkleTree
from ledger.publication import (
    GOLD,
    INDEX,
    LABEL_LEAF_ENCODING,
    LABEL_TREE,
    MANIFEST,
    METHOD_NAMES,
    PAYOUT_LEAF_ENCODING,
    PAYOUT_TREE,
    TERMS,
    VERDICTS,
    VERDICTS_FORMAT,
)


@dataclass(frozen=True)
class Index:
    """The publication's index.json: the epochs and datasets it lists, and where it disagrees
    with the deployment (for `epochs-published`)."""

    epochs: list[int]
    datasets: list[int]
    problems: list[Row]


def read_index(source: Source, deployment: Deployment) -> Index:
    raw = source.read(INDEX)
    if raw is None:
        raise AuditInputError(
            f"{source.location} has no {INDEX}: is it a label-ledger publication?"
        )
    try:
        index = json.loads(raw)
        epochs = sorted(int(n) for n in index["epochs"])
        datasets = sorted(int(d, 16) for d in index["datasets"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditInputError(f"{INDEX} is not a publication index: {exc}") from exc
    problems: list[Row] = []
    if int(index.get("chainId", -1)) != deployment.chain_id:
        problems.append(
            {
                "file": INDEX,
                "problem": f"chainId {index.get('chainId')} is not the deployment's "
                f"{deployment.chain_id}",
            }
        )
    if str(index.get("ledger", "")).lower() != deployment.ledger.lower():
        problems.append(
            {
                "file": INDEX,
                "problem": f"ledger {index.get('ledger')} is not the deployment's "
                f"{deployment.ledger}",
            }
        )
    return Index(epochs, datasets, problems)


def load_epochs(source: Source, numbers: list[int], progress: Progress) -> dict[int, EpochFiles]:
    """Each epoch's files, as far as they load (`EpochFiles.problems` says what did not)."""
    epochs: dict[int, EpochFiles] = {}
    for done, number in enumerate(numbers):
        progress(f"loading epoch {number}", done, len(numbers))
        epochs[number] = _load_epoch(source, number)
    progress("loaded epochs", len(numbers), len(numbers))
    return epochs


def _load_epoch(source: Source, number: int) -> EpochFiles:
    files = EpochFiles(number)
    folder = f"epochs/{number}/"
    files.manifest_bytes = source.read(folder + MANIFEST)
    if files.manifest_bytes is None:
        return files
    try:
        files.manifest = Manifest.parse(files.manifest_bytes)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        files.manifest_problem = f"manifest.json does not parse: {exc!r}"
        files.problems.append({"epoch": str(number), "file": MANIFEST, "problem": str(exc)})
        return files
    manifest = files.manifest
    where = {"epoch": str(number)}
    for encoding, expected, what in (
        (manifest.payout_encoding, PAYOUT_LEAF_ENCODING, "payoutLeafEncoding"),
        (manifest.label_encoding, LABEL_LEAF_ENCODING, "labelLeafEncoding"),
    ):
        if tuple(encoding) != expected:
            files.problems.append(
                {**where, "file": MANIFEST, "problem": f"{what} {encoding} != {list(expected)}"}
            )
    if manifest.methods != {str(c): n for c, n in METHOD_NAMES.items()}:
        files.problems.append(
            {**where, "file": MANIFEST, "problem": f"methods {manifest.methods} unexpected"}
        )
    payout = _load_dump(source, files, PAYOUT_TREE, manifest.payout_root, PAYOUT_LEAF_ENCODING)
    if payout is not None:
        files.payout_root = payout.root
        files.payout = _payout_leaves(files, payout)
    labels = _load_dump(source, files, LABEL_TREE, manifest.label_root, LABEL_LEAF_ENCODING)
    if labels is not None:
        files.label_root = labels.root
        files.labels = [
            (
                int(v[0]),
                str(v[1]).lower(),
                str(v[2]).lower(),
                str(v[3]).lower(),
                int(v[4]),
                int(v[5]),
                int(v[6]),
            )
            for _, v in labels.entries()
        ]
        if len(files.labels) != manifest.label_count:
            files.problems.append(
                {
                    **where,
                    "file": LABEL_TREE,
                    "problem": f"{len(files.labels)} label leaves, manifest labelCount "
                    f"{manifest.label_count}",
                }
            )
    _load_verdicts(source, files)
    return files


def _load_dump(
    source: Source, files: EpochFiles, name: str, root: str, encoding: tuple[str, ...]
) -> StandardMerkleTree | None:
    assert files.manifest is not None
    where = {"epoch": str(files.number), "file": name}
    raw = source.read(f"epochs/{files.number}/{name}")
    if raw is None:
        files.problems.append({**where, "problem": "missing"})
        return None
    digest, expected = hash_hex(raw), files.manifest.files.get(name)
    trusted = digest == expected
    if not trusted:
        files.problems.append(
            {**where, "problem": f"keccak256 {digest} != manifest files[{name}] {expected}"}
        )
    try:
        tree = StandardMerkleTree.loads(raw)
    except InvalidDumpError as exc:
        files.problems.append({**where, "problem": f"invalid dump: {exc}", **_bad_leaf(raw, exc)})
        return None
    if tree.leaf_encoding != encoding:
        files.problems.append(
            {**where, "problem": f"leafEncoding {list(tree.leaf_encoding)} != {list(encoding)}"}
        )
        return None
    if tree.root != root:
        files.problems.append(
            {**where, "problem": f"rebuilt root {tree.root} != manifest root {root}"}
        )
        return None
    # a file other than the one the manifest names is not what the epoch committed to: the
    # checks that need it say so instead of checking it
    return tree if trusted else None


def _payout_leaves(
    files: EpochFiles, tree: StandardMerkleTree
) -> dict[tuple[str, int], tuple[int, int]]:
    leaves: dict[tuple[str, int], tuple[int, int]] = {}
    for index, value in tree.entries():
        key = (str(value[0]).lower(), int(value[1]))
        if key in leaves:
            files.problems.append(
                {
                    "epoch": str(files.number),
                    "file": PAYOUT_TREE,
                    "account": str(value[0]),
                    "token": str(value[1]),
                    "problem": f"second leaf for this account and token (values[{index}])",
                }
            )
        leaves[key] = (int(value[2]), int(value[3]))
    return leaves


def _load_verdicts(source: Source, files: EpochFiles) -> None:
    assert files.manifest is not None
    where = {"epoch": str(files.number), "file": VERDICTS}
    raw = source.read(f"epochs/{files.number}/{VERDICTS}")
    if raw is None:
        files.problems.append({**where, "problem": "missing"})
        return
    digest, expected = hash_hex(raw), files.manifest.files.get(VERDICTS)
    if digest != expected:
        files.problems.append(
            {**where, "problem": f"keccak256 {digest} != manifest files[{VERDICTS}] {expected}"}
        )
        return
    try:
        doc = json.loads(raw)
        if doc.get("format") != VERDICTS_FORMAT or int(doc["epoch"]) != files.number:
            raise ValueError(f"format {doc.get('format')!r}, epoch {doc.get('epoch')!r}")
        paid: dict[LabelKey, list[tuple[str, str | None, str | None]]] = defaultdict(list)
        for entry in doc["paid"]:
            dataset, item, annotator, label, method, evidence, graded = entry
            key = (int(dataset, 16), item.lower(), annotator.lower(), label.lower())
            paid[key].append(
                (
                    str(method),
                    None if evidence is None else str(evidence),
                    None if graded is None else str(graded).lower(),
                )
            )
        rejected = [
            ((int(d, 16), i.lower(), a.lower(), lh.lower()), str(ans).lower(), str(g).lower())
            for d, i, a, lh, ans, g in doc["goldRejected"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        files.problems.append({**where, "problem": f"does not parse: {exc!r}"})
        return
    files.verdicts = Verdicts(dict(paid), rejected, len(doc["paid"]))
    if len(rejected) != files.manifest.gold_rejected_count:
        files.problems.append(
            {
                **where,
                "problem": f"{len(rejected)} gold rejections, manifest goldRejectedCount "
                f"{files.manifest.gold_rejected_count}",
            }
        )


def load_datasets(
    source: Source, ids: list[int], progress: Progress
) -> tuple[dict[int, Terms], dict[int, str], dict[int, bytes]]:
    """Each dataset's terms (or why they are unusable) and its revealed gold.json, if any."""
    terms: dict[int, Terms] = {}
    terms_problems: dict[int, str] = {}
    gold_raw: dict[int, bytes] = {}
    for done, dataset_id in enumerate(ids):
        progress("loading dataset terms", done, len(ids))
        folder = f"datasets/{id_hex(dataset_id)}/"
        raw = source.read(folder + TERMS)
        if raw is None:
            terms_problems[dataset_id] = "terms.json is not published"
        else:
            try:
                terms[dataset_id] = Terms.parse(raw)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                terms_problems[dataset_id] = f"terms.json does not parse: {exc!r}"
        gold = source.read(folder + GOLD)
        if gold is not None:
            gold_raw[dataset_id] = gold
    return terms, terms_problems, gold_raw


def _bad_leaf(raw: bytes, exc: InvalidDumpError) -> Row:
    """For a dump whose values[i] does not match its leaf: that value, so the row names it."""
    found = re.search(r"values\[(\d+)\]", str(exc))
    if found is None:
        return {}
    try:
        value = json.loads(raw)["values"][int(found[1])]["value"]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return {"leaf": json.dumps(value)}
