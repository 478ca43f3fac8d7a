"""Check `escrow`: the ledger holds every token it owes."""

from __future__ import annotations

from collections import defaultdict

from ledger.audit.offline.chain import ChainDataset
from ledger.audit.offline.encoding import fee_of, id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """For each payment token: what the ledger owes is the proposed debits less the payments
    claimed; its fees are the epochs' fees less those withdrawn; and its balance of the token
    covers what it owes, its fees and every dataset's available funds. For each dataset: debited
    is the sum of its proposed debits, and available is what was funded less debits, fees and
    refunds."""
    debits: dict[int, int] = defaultdict(int)  # per token
    fees: dict[int, int] = defaultdict(int)
    per_dataset: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # debit, fee
    for proposal in inputs.history.proposals.values():
        for dataset_id, debit in proposal.debits:
            chain = inputs.history.datasets.get(dataset_id)
            if chain is None:
                continue
            fee = fee_of(debit, chain.fee_bps)
            debits[chain.token] += debit
            fees[chain.token] += fee
            per_dataset[dataset_id][0] += debit
            per_dataset[dataset_id][1] += fee
    paid: dict[int, int] = defaultdict(int)
    for (_, token), (payment, _reward) in inputs.history.claims.items():
        paid[token] += payment
    rows: list[Row] = []
    available: dict[int, int] = defaultdict(int)
    for dataset_id, chain in sorted(inputs.history.datasets.items()):
        view = inputs.views[f"dataset:{dataset_id}"]
        available[chain.token] += view[5]
        rows.extend(_dataset_escrow_rows(chain, view, per_dataset[dataset_id]))
    for listed in inputs.deployment.payment_tokens:
        i = listed.index
        owed, held = inputs.views[f"tokenState:{i}"][:2]
        balance = inputs.views[f"balance:{i}"][0]
        where = {"token": f"{i} ({listed.address})"}
        if owed != debits[i] - paid[i]:
            rows.append(
                {
                    **where,
                    "problem": f"owed {owed} != debits {debits[i]} - claimed payments {paid[i]}",
                }
            )
        if held != fees[i] - inputs.history.withdrawn[i]:
            rows.append(
                {
                    **where,
                    "problem": f"fees {held} != epoch fees {fees[i]} - withdrawn "
                    f"{inputs.history.withdrawn[i]}",
                }
            )
        if balance < owed + held + available[i]:
            rows.append(
                {
                    **where,
                    "problem": f"balanceOf(ledger) {balance} < owed {owed} + fees "
                    f"{held} + available {available[i]}",
                }
            )
    return result(
        "escrow",
        rows,
        f"{len(inputs.deployment.payment_tokens)} payment token(s): the ledger "
        "holds what it owes, its fees and every dataset's available funds",
    )


def _dataset_escrow_rows(chain: ChainDataset, view: list[int], debited: list[int]) -> list[Row]:
    where = {"dataset": id_hex(chain.dataset_id)}
    rows: list[Row] = []
    available, debited_view = view[5], view[6]
    if debited_view != debited[0]:
        rows.append(
            {
                **where,
                "problem": f"dataset().debited {debited_view} != proposed debits {debited[0]}",
            }
        )
    expected = chain.funded - debited[0] - debited[1] - chain.refunded
    if available != expected:
        rows.append(
            {
                **where,
                "problem": f"dataset().available {available} != funded "
                f"{chain.funded} - debits {debited[0]} - fees {debited[1]} - refunds "
                f"{chain.refunded}",
            }
        )
    return rows
