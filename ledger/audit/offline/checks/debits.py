"""Check `debits`: each epoch debits each dataset what the chain debited, and its labels pay
exactly that."""

from __future__ import annotations

from collections import defaultdict

from ledger.audit.offline.chain import ChainDataset, Proposal
from ledger.audit.offline.checks.common import skipped_note
from ledger.audit.offline.documents import EpochFiles, ManifestDebit
from ledger.audit.offline.encoding import fee_of, id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """For each live epoch: the manifest lists each dataset the chain proposal debits, once, with
    the same debit, and no other; its fee is debit * feeBps // 10000 with the dataset's feeBps
    on chain, and feeBps and token are the dataset's on chain; the dataset's label leaves pay
    its debit in total and number the manifest's count of labels."""
    rows: list[Row] = []
    skipped: list[int] = []
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None:
            skipped.append(number)
            continue
        rows.extend(_debit_rows(inputs, files, inputs.history.proposals[number]))
    return result(
        "debits",
        rows,
        "manifests debit what the chain debited, with the chain's fees, and "
        "each dataset's labels add up to its debit" + skipped_note(skipped),
    )


def _debit_rows(inputs: AuditInputs, files: EpochFiles, proposal: Proposal) -> list[Row]:
    assert files.manifest is not None
    assert files.labels is not None
    where = {"epoch": str(files.number)}
    rows: list[Row] = []
    proposed: dict[int, int] = defaultdict(int)
    for dataset_id, debit in proposal.debits:
        proposed[dataset_id] += debit
    published: dict[int, ManifestDebit] = {}
    for entry in files.manifest.datasets:
        if entry.dataset_id in published:
            rows.append(
                {
                    **where,
                    "dataset": id_hex(entry.dataset_id),
                    "problem": "listed twice in the manifest",
                }
            )
        published[entry.dataset_id] = entry
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for leaf in files.labels:
        acc = sums[leaf[0]]
        acc[0] += leaf[5]
        acc[1] += 1
    for dataset_id in sorted(set(proposed) | set(published) | set(sums)):
        rows.extend(
            {**where, "dataset": id_hex(dataset_id), "problem": p}
            for p in _dataset_debit_problems(
                proposed.get(dataset_id),
                published.get(dataset_id),
                sums.get(dataset_id),
                inputs.history.datasets.get(dataset_id),
            )
        )
    return rows


def _dataset_debit_problems(
    proposed: int | None,
    entry: ManifestDebit | None,
    sums: list[int] | None,
    chain: ChainDataset | None,
) -> list[str]:
    if entry is None:
        return [
            f"debited {proposed} on chain but not in the manifest"
            if proposed is not None
            else "labels paid in the label tree but no debit in the manifest"
        ]
    if proposed is None:
        return [f"manifest debits {entry.debit}, the chain proposal does not debit it"]
    problems: list[str] = []
    if entry.debit != proposed:
        problems.append(f"manifest debit {entry.debit} != proposed {proposed}")
    if chain is not None:
        fee = fee_of(entry.debit, chain.fee_bps)
        if entry.fee != fee:
            problems.append(
                f"manifest fee {entry.fee} != debit*feeBps//10000 = {fee} "
                f"(feeBps {chain.fee_bps} on chain)"
            )
        if entry.fee_bps != chain.fee_bps:
            problems.append(f"manifest feeBps {entry.fee_bps} != {chain.fee_bps} on chain")
        if entry.token != chain.token:
            problems.append(f"manifest token {entry.token} != {chain.token} on chain")
    paid, count = sums if sums is not None else [0, 0]
    if paid != entry.debit:
        problems.append(f"label leaves pay {paid} in total, debit is {entry.debit}")
    if count != entry.labels:
        problems.append(f"{count} label leaves, manifest says {entry.labels} labels")
    return problems
