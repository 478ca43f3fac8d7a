"""`label-ledger audit`: checks every payout from the chain's logs and the publication alone.

Nothing here reads our database. The auditor gets:

- the chain, through one JSON-RPC URL: every LabelLedger log from the deployment block to the
  audited block (the head unless told), and views (`eth_call`) at that same block;
- the publication (`ledger.publication`): a directory, or the same layout under an http(s) base
  URL, with `index.json`, the epochs' manifests, Merkle dumps and verdicts, and the datasets'
  terms and revealed gold answers;
- the deployment file, for the ledger's address, its deployment block and the payment tokens'
  allowlist indices.

It runs thirteen named checks (`CHECKS`), each `pass`, `fail` or `pending` (cannot be decided yet,
say gold answers a still-open dataset has not revealed), with a one-line summary and the rows at
fault. Every check works from data loaded once: logs in ranges that halve when the node refuses
them, all views in JSON-RPC batches, each dump parsed once, then dictionaries and single passes
over the leaves (an epoch of 100k labels is a few seconds, mostly rebuilding its tree).

Where things are:

- `checks/`: one module per check, named as in the report (`checks/epochs_published.py` is
  `epochs-published`), its docstring stating the rule; `checks/__init__.py` lists them in order;
- `inputs.py`: `AuditInputs`, everything the auditor read, which every check takes; read by
  `chain.py` (logs and views), `publication.py` (index, epochs, terms, gold) through
  `source.py` (a directory or a URL), into the shapes of `documents.py`;
- `report.py`: `CheckResult`, `AuditReport` and how they print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from ledger.audit.offline.checks import IN_ORDER
from ledger.audit.offline.checks.overlap import _overlap_rows, _paid_places
from ledger.audit.offline.checks.verdicts import _verdict_problem
from ledger.audit.offline.documents import (
    DEFAULT_METHOD,
    DEFAULT_PLACES,
    EpochFiles,
    LabelLeaf,
    Terms,
    Verdicts,
)
from ledger.audit.offline.inputs import AuditInputs, read_inputs
from ledger.audit.offline.report import (
    FAILED,
    PASSED,
    PENDING,
    AuditReport,
    CheckResult,
    Progress,
)
from ledger.audit.offline.source import AuditInputError, Source
from ledger.chain.client import Deployment
from ledger.mirror.rpc import MirrorRpc

__all__ = [
    "CHECKS",
    "DEFAULT_METHOD",
    "DEFAULT_PLACES",
    "FAILED",
    "PASSED",
    "PENDING",
    "AuditInputError",
    "AuditInputs",
    "AuditReport",
    "CheckResult",
    "EpochFiles",
    "LabelLeaf",
    "Progress",
    "Terms",
    "Verdicts",
    "_overlap_rows",  # the unit tests of `overlap` and `verdicts` call these directly
    "_paid_places",
    "_verdict_problem",
    "audit",
]

#: The checks' names, in the report's order.
CHECKS: Final = tuple(name for name, _check in IN_ORDER)


def audit(
    rpc_url: str,
    deployment: Deployment,
    source: str | Path,
    *,
    block: int | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audits `deployment`'s ledger at `block` (the head by default) against the publication at
    `source` (directory or base URL). Raises `AuditInputError` (or `ChainUnavailable`) when it
    cannot start; every finding is in the report."""
    rpc = MirrorRpc(rpc_url, attempts=3, backoff_base=0.2, backoff_max=2.0)
    publication = Source(source)
    shown = progress or _quiet
    try:
        return _run(read_inputs(rpc, deployment, publication, block, shown), shown)
    finally:
        publication.close()
        rpc.close()


def _run(inputs: AuditInputs, progress: Progress) -> AuditReport:
    """Runs every check, in order, on what was read."""
    checks: list[CheckResult] = []
    for number, (name, check) in enumerate(IN_ORDER):
        progress("checking " + name, number, len(IN_ORDER))
        checks.append(check(inputs))
    progress("done", len(IN_ORDER), len(IN_ORDER))
    return AuditReport(inputs.block, inputs.deployment.chain_id, inputs.deployment.ledger, checks)


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None
