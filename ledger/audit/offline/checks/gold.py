"""Check `gold`: gold verdicts follow the gold answers the buyer committed to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from ledger.audit.offline.checks.common import skipped_note
from ledger.audit.offline.documents import LabelKey, Terms, gold_answers
from ledger.audit.offline.encoding import hash_hex, id_hex
from ledger.audit.offline.inputs import AuditInputs
from ledger.audit.offline.report import CheckResult, Row, result

#: (epoch, "paid" or "rejected", label, answer hash it was graded against, its graded hash)
GoldVerdict = tuple[int, str, LabelKey, str, str]


def check(inputs: AuditInputs) -> CheckResult:
    """A gold verdict pays a label only when its graded hash is the answer hash, and rejects it
    only when not. A dataset whose terms commit to no gold answers has no gold verdicts. One
    that does reveals gold.json, which hashes to the commitment, and every gold verdict's item
    and answer are the revealed ones, with the outcome they give. Until an open dataset reveals
    them, its gold verdicts are pending; a dataset closed without revealing them fails."""
    by_dataset: dict[int, list[GoldVerdict]] = defaultdict(list)
    skipped: list[int] = []
    for number in inputs.live():
        files = inputs.usable(number)
        if files is None:
            skipped.append(number)
            continue
        assert files.verdicts is not None
        for key, entries in files.verdicts.paid.items():
            for method, evidence, graded in entries:
                if method == "gold":
                    verdict = (number, "paid", key, str(evidence).lower(), str(graded))
                    by_dataset[key[0]].append(verdict)
        for key, answer, graded in files.verdicts.rejected:
            by_dataset[key[0]].append((number, "rejected", key, answer, graded))
    rows: list[Row] = []
    pending: list[Row] = []
    committed = 0
    for dataset_id in sorted(set(by_dataset) | set(inputs.terms)):
        terms = inputs.terms.get(dataset_id)
        if terms is not None and terms.gold_commitment is not None:
            committed += 1
        found, waiting = _gold_rows(inputs, dataset_id, terms, by_dataset.get(dataset_id, []))
        rows.extend(found)
        pending.extend(waiting)
    return result(
        "gold",
        rows,
        f"{committed} dataset(s) with gold: reveals match their commitments and "
        "every gold verdict follows the revealed answers" + skipped_note(skipped),
        pending=pending,
    )


def _gold_rows(
    inputs: AuditInputs, dataset_id: int, terms: Terms | None, verdicts: list[GoldVerdict]
) -> tuple[list[Row], list[Row]]:
    where = {"dataset": id_hex(dataset_id)}
    rows = [
        _gold_row(n, kind, key, p)
        for n, kind, key, ans, graded in verdicts
        if (p := _gold_self_problem(kind, ans, graded)) is not None
    ]
    if terms is None:
        return rows, []  # reported by `terms`
    if terms.gold_commitment is None:
        rows.extend(
            _gold_row(
                n, kind, key, "gold verdict on a dataset whose terms commit to no gold answers"
            )
            for n, kind, key, _answer, _graded in verdicts
        )
        return rows, []
    raw = inputs.gold_raw.get(dataset_id)
    chain = inputs.history.datasets.get(dataset_id)
    if raw is None:
        if chain is not None and chain.closed:
            rows.append(
                {
                    **where,
                    "problem": f"closed without revealing gold.json (commitment "
                    f"{terms.gold_commitment}, {len(verdicts)} gold verdict(s))",
                }
            )
            return rows, []
        return rows, [
            {
                **where,
                "status": "pending",
                "problem": f"open: gold answers not "
                f"revealed yet, {len(verdicts)} gold verdict(s) to check then",
            }
        ]
    rows.extend(_reveal_rows(where, terms.gold_commitment, raw, verdicts))
    return rows, []


def _gold_self_problem(kind: str, answer: str, graded: str) -> str | None:
    """A gold verdict against itself: paid only if the label graded as the answer."""
    if kind == "paid" and graded != answer:
        return f"paid on gold but its graded hash {graded} != the answer hash {answer}"
    if kind == "rejected" and graded == answer:
        return "rejected on gold but its graded hash equals the answer hash"
    return None


def _reveal_rows(where: Row, commitment: str, raw: bytes, verdicts: list[GoldVerdict]) -> list[Row]:
    """A revealed gold.json against its commitment, then the gold verdicts against it."""
    digest = hash_hex(raw)
    if digest != commitment:
        return [
            {**where, "problem": f"keccak256(gold.json) {digest} != goldCommitment {commitment}"}
        ]
    try:
        answers = gold_answers(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [{**where, "problem": f"gold.json does not parse: {exc!r}"}]
    return _revealed_rows(answers, verdicts)


def _revealed_rows(answers: Mapping[str, str], verdicts: list[GoldVerdict]) -> list[Row]:
    """Gold verdicts against the revealed answers (item hash -> answer hash)."""
    rows: list[Row] = []
    for number, kind, key, answer, graded in verdicts:
        revealed = answers.get(key[1])
        if revealed is None:
            problem = "item is not among the revealed gold items"
        elif answer != revealed:
            problem = f"answer hash {answer} != revealed {revealed}"
        elif kind == "paid" and graded != revealed:
            problem = "paid label differs from the revealed answer"
        elif kind == "rejected" and graded == revealed:
            problem = "rejected label equals the revealed answer"
        else:
            continue
        rows.append(_gold_row(number, kind, key, problem))
    return rows


def _gold_row(epoch: int, kind: str, key: LabelKey, problem: str) -> Row:
    return {
        "epoch": str(epoch),
        "verdict": kind,
        "dataset": id_hex(key[0]),
        "item": key[1],
        "annotator": key[2],
        "labelHash": key[3],
        "problem": problem,
    }
