"""Check `overlap`: no item is paid more labels than its dataset's terms allow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Final

from ledger.audit.offline.checks.common import skipped_note
from ledger.audit.offline.documents import EpochFiles, ItemKey, Terms, gold_answers
from ledger.audit.offline.encoding import hash_hex, id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result
from ledger.publication import METHOD_CODES

_GOLD: Final = METHOD_CODES["gold"]
_APPEAL: Final = METHOD_CODES["appeal"]  # paid beyond the overlap: takes no place


def check(inputs: AuditInputs) -> CheckResult:
    """Over all live epochs, appeals aside, an item is paid at most `overlap` labels under review,
    `consensus_max_k` under consensus, and `gold_overlap` if it is a gold item: one the epochs
    show as gold (a gold leaf or verdict, paid or rejected) or that a revealed gold.json
    matching the terms' commitment names. Datasets without usable terms are left to `terms`."""
    usable: list[EpochFiles] = []
    skipped: list[int] = []
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None:
            skipped.append(number)
        else:
            usable.append(files)
    paid, gold = _paid_places(usable)
    gold |= _revealed_gold_items(inputs)
    rows = _overlap_rows(paid, gold, inputs.terms)
    unchecked = len({dataset_id for dataset_id, _ in paid} - set(inputs.terms))
    without_terms = (
        f" (not checked for {unchecked} dataset(s) without usable terms.json)" if unchecked else ""
    )
    return result(
        "overlap",
        rows,
        f"{len(paid)} item(s): none is paid more labels than its terms allow (overlap, "
        "consensus_max_k, or gold_overlap for a gold item; appeals aside)"
        + without_terms
        + skipped_note(skipped),
    )


def _revealed_gold_items(inputs: AuditInputs) -> set[ItemKey]:
    """The items each revealed gold.json names, where it is the one the terms committed to
    (`gold` reports one that is not)."""
    items: set[ItemKey] = set()
    for dataset_id, raw in inputs.gold_raw.items():
        terms = inputs.terms.get(dataset_id)
        if terms is None or terms.gold_commitment != hash_hex(raw):
            continue
        try:
            answers = gold_answers(raw)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # reported by `gold`
        items.update((dataset_id, item) for item in answers)
    return items


def _paid_places(epochs: Iterable[EpochFiles]) -> tuple[dict[ItemKey, list[int]], set[ItemKey]]:
    """Per item, the epoch of each label leaf that took one of its places (every method but
    appeal); and the items the epochs show as gold (a gold leaf or verdict, paid or rejected)."""
    paid: dict[ItemKey, list[int]] = defaultdict(list)
    gold: set[ItemKey] = set()
    for files in epochs:
        assert files.labels is not None
        assert files.verdicts is not None
        for leaf in files.labels:
            if leaf[4] == _GOLD:
                gold.add((leaf[0], leaf[1]))
            if leaf[4] != _APPEAL:
                paid[(leaf[0], leaf[1])].append(files.number)
        for key, entries in files.verdicts.paid.items():
            if any(method == "gold" for method, _evidence, _graded in entries):
                gold.add((key[0], key[1]))
        gold.update((key[0], key[1]) for key, _answer, _graded in files.verdicts.rejected)
    return dict(paid), gold


def _overlap_rows(
    paid: Mapping[ItemKey, list[int]], gold: set[ItemKey], terms: Mapping[int, Terms]
) -> list[Row]:
    """The items paid more labels than their dataset's terms allow. `paid`: per item, the epoch
    of each leaf that took a place; a dataset without usable terms is reported by `terms`."""
    rows: list[Row] = []
    for (dataset_id, item), epochs in sorted(paid.items()):
        dataset_terms = terms.get(dataset_id)
        if dataset_terms is None:
            continue
        allowed, term = dataset_terms.allowance(gold=(dataset_id, item) in gold)
        if len(epochs) <= allowed:
            continue
        rows.append(
            {
                "dataset": id_hex(dataset_id),
                "item": item,
                "paid": str(len(epochs)),
                "allowed": str(allowed),
                "epochs": ", ".join(str(n) for n in sorted(set(epochs))),
                "problem": f"{len(epochs)} labels paid on this item (appeals aside), its terms "
                f"allow {allowed} ({term})",
            }
        )
    return rows
