"""Check `verdicts`: each paid label has exactly one verdict that pays it, and is paid once."""

from __future__ import annotations

import re
from typing import Final

from ledger.audit.offline.checks.common import leaf_row, skipped_note
from ledger.audit.offline.documents import EpochFiles, LabelKey
from ledger.audit.offline.encoding import id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result
from ledger.publication import METHOD_CODES, METHOD_NAMES

_ADDRESS_RE: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH_RE: Final = re.compile(r"0x[0-9a-f]{64}")


def check(inputs: AuditInputs) -> CheckResult:
    """For each label leaf of each live epoch: verdicts.json has exactly one paid verdict for it,
    with the leaf's method and its evidence (a review names its reviewer's address, an appeal
    who upheld the dispute, a gold verdict the answer and graded hashes); the leaf appears once;
    the annotator's label on that item was not paid in an earlier epoch. No paid verdict lacks
    its leaf, and each gold rejection carries its answer and graded hashes."""
    rows: list[Row] = []
    skipped: list[int] = []
    paid_in: dict[tuple[int, str, str], int] = {}
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None:
            skipped.append(number)
            continue
        rows.extend(_verdict_rows(files, paid_in))
    return result(
        "verdicts",
        rows,
        f"{len(paid_in)} label(s): each has exactly one matching paid "
        "verdict with its method and evidence, and is paid once" + skipped_note(skipped),
    )


def _verdict_rows(files: EpochFiles, paid_in: dict[tuple[int, str, str], int]) -> list[Row]:
    assert files.labels is not None
    assert files.verdicts is not None
    number = files.number
    rows: list[Row] = []
    verdicts = files.verdicts.paid
    used: set[LabelKey] = set()
    for leaf in files.labels:
        key: LabelKey = (leaf[0], leaf[1], leaf[2], leaf[3])
        entries = verdicts.get(key, [])
        problem = _verdict_problem(leaf[4], entries, key in used)
        used.add(key)
        if problem is not None:
            rows.append(leaf_row(number, leaf, problem))
        once = (leaf[0], leaf[1], leaf[2])
        if once in paid_in:
            rows.append(
                leaf_row(
                    number,
                    leaf,
                    f"this annotator's label on this item was "
                    f"already paid in epoch {paid_in[once]}",
                )
            )
        else:
            paid_in[once] = number
    for key in sorted(set(verdicts) - used):
        rows.append(
            {
                "epoch": str(number),
                "dataset": id_hex(key[0]),
                "item": key[1],
                "annotator": key[2],
                "labelHash": key[3],
                "problem": "paid verdict without a label leaf",
            }
        )
    for key, answer, graded in files.verdicts.rejected:
        if not (_HASH_RE.fullmatch(answer) and _HASH_RE.fullmatch(graded)):
            rows.append(
                {
                    "epoch": str(number),
                    "dataset": id_hex(key[0]),
                    "item": key[1],
                    "annotator": key[2],
                    "problem": "gold rejection without answer and graded hashes "
                    f"({answer}, {graded})",
                }
            )
    return rows


def _verdict_problem(
    code: int, entries: list[tuple[str, str | None, str | None]], seen: bool
) -> str | None:
    if seen:
        return "the same label leaf appears twice"
    if len(entries) != 1:
        return f"{len(entries)} paid verdicts for this label (expected 1)"
    method, evidence, graded = entries[0]
    if METHOD_CODES.get(method) != code:
        return f"leaf method {METHOD_NAMES.get(code, code)} != verdict method {method}"
    # a review names its reviewer, an appeal who upheld the dispute (a reviewer or an operator)
    decider = {"review": "reviewer", "appeal": "decider"}.get(method)
    if decider is not None and (evidence is None or not _ADDRESS_RE.fullmatch(evidence)):
        return f"{method} verdict without a {decider} address (evidence {evidence})"
    if method == "gold" and not (
        evidence is not None
        and graded is not None
        and _HASH_RE.fullmatch(evidence.lower())
        and _HASH_RE.fullmatch(graded)
    ):
        return f"gold verdict without answer and graded hashes ({evidence}, {graded})"
    return None
