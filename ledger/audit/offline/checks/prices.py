"""Check `prices`: each label is paid its dataset's price and reward."""

from __future__ import annotations

from ledger.audit.offline.checks.common import leaf_row, skipped_note
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """Each label leaf of each live epoch pays its dataset's pricePerLabel, and rewards
    rewardPerLabel times one of the reward tier multipliers the terms commit to (1x without
    tiers)."""
    rows: list[Row] = []
    skipped: list[int] = []
    count = 0
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None:
            skipped.append(number)
            continue
        assert files.labels is not None
        for leaf in files.labels:
            count += 1
            terms = inputs.terms.get(leaf[0])
            if terms is None:
                rows.append(leaf_row(number, leaf, "no usable terms.json for its dataset"))
                continue
            if leaf[5] != terms.price:
                rows.append(
                    leaf_row(number, leaf, f"payment {leaf[5]} != pricePerLabel {terms.price}")
                )
            if leaf[6] not in terms.rewards:
                allowed = ", ".join(str(r) for r in sorted(terms.rewards))
                rows.append(
                    leaf_row(
                        number,
                        leaf,
                        f"reward {leaf[6]} is none the terms allow ({allowed}: rewardPerLabel "
                        f"{terms.reward} times a committed tier multiplier)",
                    )
                )
    return result(
        "prices",
        rows,
        f"{count} label(s) each pay their dataset's price and reward" + skipped_note(skipped),
    )
