"""Check `supply`: LABEL is minted only by claims."""

from __future__ import annotations

from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """LABEL's totalSupply() is the sum of the rewards claimed (the Claimed logs)."""
    minted = sum(r for _, r in inputs.history.claims.values())
    supply = inputs.views["totalSupply"][0]
    rows: list[Row] = []
    if supply != minted:
        rows.append(
            {
                "token": "LABEL",
                "problem": f"totalSupply() {supply} != sum of Claimed rewards {minted}",
            }
        )
    return result("supply", rows, f"LABEL totalSupply() {supply} == claimed rewards")
