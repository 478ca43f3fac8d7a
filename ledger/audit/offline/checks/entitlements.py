"""Check `entitlements`: each epoch's payout tree adds exactly its labels to the previous one."""

from __future__ import annotations

from collections import defaultdict

from ledger.audit.offline.checks.common import skipped_note
from ledger.audit.offline.documents import EpochFiles
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result


def check(inputs: AuditInputs) -> CheckResult:
    """From one live epoch to the next, each account's cumulative payment and reward per token grow
    by exactly what its label leaves in the epoch earn: never decrease, never disappear, and no
    account earns without a leaf. Per token, the cumulative payments grow by what the epoch
    debited. An epoch whose files, or whose previous epoch's files, are unusable is not checked."""
    rows: list[Row] = []
    skipped: list[int] = []
    previous: dict[tuple[str, int], tuple[int, int]] | None = {}
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None or previous is None:
            skipped.append(number)
            previous = None if files is None else files.payout
            continue
        assert files.payout is not None
        rows.extend(_entitlement_rows(inputs, files, previous))
        previous = files.payout
    return result(
        "entitlements",
        rows,
        "each epoch's payout leaves add exactly its labels to the "
        "previous cumulatives, per account and token" + skipped_note(skipped),
    )


def _entitlement_rows(
    inputs: AuditInputs, files: EpochFiles, previous: dict[tuple[str, int], tuple[int, int]]
) -> list[Row]:
    assert files.payout is not None
    assert files.labels is not None
    number = str(files.number)
    rows: list[Row] = []
    earned: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for leaf in files.labels:
        token = inputs.token_of(leaf[0])
        if token is not None:
            acc = earned[(leaf[2], token)]
            acc[0] += leaf[5]
            acc[1] += leaf[6]
    debited: dict[int, int] = defaultdict(int)
    for dataset_id, debit in inputs.history.proposals[files.number].debits:
        token = inputs.token_of(dataset_id)
        if token is not None:
            debited[token] += debit
    now_sum: dict[int, int] = defaultdict(int)
    before_sum: dict[int, int] = defaultdict(int)
    for (_, token), (payment, _reward) in files.payout.items():
        now_sum[token] += payment
    for (_, token), (payment, _reward) in previous.items():
        before_sum[token] += payment
    for token in sorted(set(now_sum) | set(before_sum) | set(debited)):
        delta = now_sum[token] - before_sum[token]
        if delta != debited[token]:
            rows.append(
                {
                    "epoch": number,
                    "token": str(token),
                    "problem": f"cumulative "
                    f"payments grew by {delta}, the epoch debited {debited[token]}",
                }
            )
    for key in sorted(set(files.payout) | set(previous) | set(earned)):
        rows.extend(
            _account_rows(
                number, key, files.payout.get(key), previous.get(key), earned.get(key, [0, 0])
            )
        )
    return rows


def _account_rows(
    number: str,
    key: tuple[str, int],
    now: tuple[int, int] | None,
    before: tuple[int, int] | None,
    earned: list[int],
) -> list[Row]:
    where = {"epoch": number, "account": key[0], "token": str(key[1])}
    if now is None:
        if before is not None:
            return [{**where, "problem": f"leaf {before} of the previous epoch disappeared"}]
        return [{**where, "problem": f"labels earn {tuple(earned)} but there is no payout leaf"}]
    base = before or (0, 0)
    rows: list[Row] = []
    for i, what in enumerate(("payment", "reward")):
        delta = now[i] - base[i]
        if delta < 0:
            rows.append(
                {**where, "problem": f"cumulative {what} decreased from {base[i]} to {now[i]}"}
            )
        elif delta != earned[i]:
            rows.append(
                {
                    **where,
                    "problem": f"cumulative {what} grew by {delta} "
                    f"({base[i]} -> {now[i]}), its labels earn {earned[i]}",
                }
            )
    return rows
