"""Check `epochs-published`: the publication holds exactly the epochs live on chain."""

from __future__ import annotations

from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, result
from ledger.publication import INDEX


def check(inputs: AuditInputs) -> CheckResult:
    """Every epoch proposed on chain and not revoked (as of the audited block) is listed in
    index.json and has its manifest.json published; the publication lists no epoch that was
    revoked or never proposed; and index.json names the deployment's chain and ledger."""
    rows = list(inputs.index_problems)
    for number in inputs.live():
        files = inputs.epochs[number]
        if number not in inputs.index_epochs:
            rows.append(
                {
                    "epoch": str(number),
                    "problem": f"proposed on chain (block "
                    f"{inputs.history.proposals[number].block}) but not in {INDEX}",
                }
            )
        elif files.manifest_bytes is None:
            rows.append(
                {
                    "epoch": str(number),
                    "problem": "in index.json but its manifest.json is missing",
                }
            )
    for number in inputs.index_epochs:
        if number not in inputs.history.proposals:
            why = "revoked on chain" if number in inputs.history.revoked else "never proposed"
            rows.append(
                {
                    "epoch": str(number),
                    "problem": f"published but {why} (as of block {inputs.block})",
                }
            )
    live = inputs.live()
    return result(
        "epochs-published",
        rows,
        f"{len(live)} live epoch(s) on chain, all published, nothing else published",
    )
