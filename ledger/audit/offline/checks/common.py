"""What several checks share: a label leaf as a row, and the epochs a check had to skip."""

from __future__ import annotations

from collections.abc import Iterable

from ledger.audit.offline.documents import LabelLeaf
from ledger.audit.offline.encoding import id_hex
from ledger.audit.offline.report import Row
from ledger.publication import METHOD_NAMES


def skipped_note(numbers: Iterable[int]) -> str:
    """The end of a summary naming the epochs a check could not look at, if any."""
    missing = [str(n) for n in numbers]
    if not missing:
        return ""
    return f" (not checked for epoch(s) {', '.join(missing)}: files missing or unusable)"


def leaf_row(epoch: int, leaf: LabelLeaf, problem: str) -> Row:
    """A label leaf as a row of the report, with what is wrong with it."""
    return {
        "epoch": str(epoch),
        "dataset": id_hex(leaf[0]),
        "item": leaf[1],
        "annotator": leaf[2],
        "labelHash": leaf[3],
        "method": METHOD_NAMES.get(leaf[4], str(leaf[4])),
        "payment": str(leaf[5]),
        "reward": str(leaf[6]),
        "problem": problem,
    }
