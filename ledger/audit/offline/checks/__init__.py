"""The audit's checks, one module each, named after the check in the report; each module's
docstring states its rule and its `check(inputs)` returns the check's result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ledger.audit.offline.checks import (
    claims,
    commitments,
    debits,
    dumps,
    entitlements,
    epochs_published,
    escrow,
    gold,
    overlap,
    prices,
    supply,
    terms,
    verdicts,
)
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult

Check = Callable[[AuditInputs], CheckResult]

#: Every check in the report's order: its name in the report, and the function that runs it.
IN_ORDER: Final[tuple[tuple[str, Check], ...]] = (
    ("epochs-published", epochs_published.check),
    ("commitments", commitments.check),
    ("dumps", dumps.check),
    ("terms", terms.check),
    ("debits", debits.check),
    ("entitlements", entitlements.check),
    ("prices", prices.check),
    ("overlap", overlap.check),
    ("verdicts", verdicts.check),
    ("gold", gold.check),
    ("claims", claims.check),
    ("supply", supply.check),
    ("escrow", escrow.check),
)
