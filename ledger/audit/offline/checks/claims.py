"""Check `claims`: nobody claimed more than they are entitled to."""

from __future__ import annotations

from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """Each account's claims per token (the sums of its Claimed logs, payment and reward) are at
    most its cumulative entitlement in the accepted epoch's payout tree, and the ledger's
    claimed() view agrees with those sums."""
    rows: list[Row] = []
    latest = inputs.history.latest_accepted
    leaves: dict[tuple[str, int], tuple[int, int]] | None = {}
    if latest:
        files = inputs.epochs.get(latest)
        leaves = None if files is None else files.payout
    for (account, token), (payment, reward) in sorted(inputs.history.claims.items()):
        where = {"account": account, "token": str(token)}
        view = inputs.views[f"claimed:{account}:{token}"]
        if (view[0], view[1]) != (payment, reward):
            rows.append(
                {
                    **where,
                    "problem": f"claimed() view {tuple(view[:2])} != Claimed "
                    f"events' sums {(payment, reward)}",
                }
            )
        if leaves is None:
            continue
        cumulative = leaves.get((account, token), (0, 0))
        if payment > cumulative[0] or reward > cumulative[1]:
            rows.append(
                {
                    **where,
                    "problem": f"claimed {(payment, reward)} (payment, reward) > "
                    f"entitlement {cumulative} in accepted epoch {latest}",
                }
            )
    against = (
        f"entitlement in accepted epoch {latest}"
        if leaves is not None
        else f"entitlement (not checked: accepted epoch {latest}'s payout tree is missing or "
        "unusable)"
    )
    return result(
        "claims",
        rows,
        f"{len(inputs.history.claims)} claimant(s) claimed at most their {against}; claimed() "
        "agrees with the Claimed logs",
    )
