"""Check `dumps`: every published epoch's files load and are the ones its manifest names."""

from __future__ import annotations

from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """The manifest parses and names the expected leaf encodings and methods; the payout and label
    Merkle dumps and verdicts.json are published, hash to the manifest's `files` entries, parse,
    use the expected leaf encoding and rebuild the manifest's roots; the payout tree has one
    leaf per account and token; and the label and gold-rejection counts are the manifest's
    labelCount and goldRejectedCount. (The other checks skip an epoch whose files did not load.)"""
    rows: list[Row] = []
    checked = 0
    for number in sorted(inputs.epochs):
        files = inputs.epochs[number]
        rows.extend(files.problems)
        if files.manifest is not None:
            checked += 1
    return result(
        "dumps",
        rows,
        f"{checked} epoch(s): every dump loads, rebuilds its manifest's root "
        "and hashes to the manifest's files entry",
    )
